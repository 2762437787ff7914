package ingress

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/gin-gonic/gin"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// benchPush is one signed push ready to send.
type benchPush struct {
	q     wxcodec.Query
	query string
	body  []byte
}

// makePushes builds n distinct safe-mode pushes (unique MsgIds, so the
// duplicate window drops none).
func makePushes(tb testing.TB, codec *wxcodec.Codec, f wxcodec.Format, n int) []benchPush {
	tb.Helper()
	out := make([]benchPush, n)
	ts := strconv.FormatInt(fixedNow.Unix(), 10)
	for i := range out {
		m := wxcodec.Message{ToUserName: "gh_97417a04a28d", FromUserName: "o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
			CreateTime: fixedNow.Unix(), MsgType: "text", MsgID: strconv.Itoa(7_000_000_000 + i),
			Content: "你好, I would like to know where my order is. 订单号 1234567890"}
		q, body, err := codec.EncodePush(rand.Reader, f, wxcodec.ModeSafe, m, ts, strconv.Itoa(i))
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = benchPush{q: q, query: queryValues(q).Encode(), body: body}
	}
	return out
}

// naivePipeline is the straightforward implementation the performance goal
// is measured against: encoding/xml for the envelope and the message, a
// textbook decrypt, the CloudEvents SDK to build the event, json.Marshal,
// and a publish with dedup.
type naivePipeline struct {
	appid, token string
	key          []byte
	js           jetstream.JetStream
}

type naiveEnvelope struct {
	ToUserName string `xml:"ToUserName"`
	Encrypt    string `xml:"Encrypt"`
}

type naiveMessage struct {
	ToUserName   string `xml:"ToUserName" json:"to_user_name"`
	FromUserName string `xml:"FromUserName" json:"openid"`
	CreateTime   int64  `xml:"CreateTime" json:"create_time"`
	MsgType      string `xml:"MsgType" json:"msg_type"`
	Content      string `xml:"Content" json:"content"`
	MsgID        string `xml:"MsgId" json:"msg_id"`
}

func (p *naivePipeline) handle(ctx context.Context, q wxcodec.Query, body []byte) error {
	var env naiveEnvelope
	if err := xml.Unmarshal(body, &env); err != nil {
		return err
	}
	if wxcodec.MsgSignature(p.token, q.Timestamp, q.Nonce, env.Encrypt) != q.MsgSignature {
		return errors.New("bad signature")
	}
	ct, err := base64.StdEncoding.DecodeString(env.Encrypt)
	if err != nil {
		return err
	}
	block, err := aes.NewCipher(p.key)
	if err != nil {
		return err
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, p.key[:16]).CryptBlocks(plain, ct)
	plain = plain[:len(plain)-int(plain[len(plain)-1])]
	n := binary.BigEndian.Uint32(plain[16:20])
	if string(plain[20+n:]) != p.appid {
		return errors.New("bad appid")
	}
	var m naiveMessage
	if err := xml.Unmarshal(plain[20:20+n], &m); err != nil {
		return err
	}
	e := cloudevents.New()
	e.SetID(m.MsgID)
	e.SetSource("/wxkf/" + p.appid + "/0")
	e.SetType("weixin.kf.message." + m.MsgType)
	e.SetSubject(m.FromUserName)
	e.SetTime(time.Unix(m.CreateTime, 0))
	e.SetExtension("appid", p.appid)
	e.SetExtension("businessid", "0")
	if err := e.SetData("application/json", m); err != nil {
		return err
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	msg := nats.NewMsg("wxkf.in." + p.appid + ".0." + m.FromUserName + "." + m.MsgType)
	msg.Data = data
	msg.Header.Set("Nats-Msg-Id", p.appid+":"+m.MsgID)
	_, err = p.js.PublishMsg(ctx, msg)
	return err
}

func (p *naivePipeline) ginHandler(c *gin.Context) {
	body, err := io.ReadAll(c.Request.Body)
	if err == nil {
		err = p.handle(c.Request.Context(), wxcodec.ParseQuery(c.Request.URL.Query()), body)
	}
	if err != nil {
		c.String(http.StatusBadRequest, err.Error())
		return
	}
	c.String(http.StatusOK, "success")
}

func newNaive(tb testing.TB, e *env) *naivePipeline {
	key, err := base64.StdEncoding.DecodeString(testKey + "=")
	if err != nil {
		tb.Fatal(err)
	}
	return &naivePipeline{appid: testAppID, token: testToken, key: key, js: e.js}
}

// BenchmarkPipeline runs verify → decrypt → parse → event → publish with
// JetStream ack for safe-mode XML pushes, 64 concurrent publishers on an
// embedded server: kfbridge's path against the naive one.
func BenchmarkPipeline(b *testing.B) {
	b.Run("naive", func(b *testing.B) {
		e := newEnv(b, nil)
		p := newNaive(b, e)
		runPipeline(b, e, func(ctx context.Context, bp *benchPush) error { return p.handle(ctx, bp.q, bp.body) })
	})
	b.Run("kfbridge", func(b *testing.B) {
		e := newEnv(b, nil)
		pub := events.NewPublisher(e.js)
		runPipeline(b, e, func(ctx context.Context, bp *benchPush) error {
			p, err := e.codec.Decode(bp.q, bp.body)
			if err != nil {
				return err
			}
			in, err := events.NewInbound(testAppID, &p.Message)
			if err != nil {
				return err
			}
			_, err = pub.PublishInbound(ctx, &in, "")
			return err
		})
	})
}

func runPipeline(b *testing.B, e *env, step func(context.Context, *benchPush) error) {
	pushes := makePushes(b, e.codec, wxcodec.FormatXML, b.N)
	var next atomic.Int64
	b.SetParallelism(32) // 64 goroutines on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			i := next.Add(1) - 1
			if err := step(ctx, &pushes[i%int64(len(pushes))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pushes/s")
}

// BenchmarkHTTP serves the pipeline over real HTTP on loopback and drives it
// with 64 keep-alive connections from the same process, reporting pushes/s
// and latency percentiles: the in-repo comparison of the naive handler
// against kfbridge's ingress. (cmd/wxsim load measures a separate process.)
func BenchmarkHTTP(b *testing.B) {
	b.Run("naive", func(b *testing.B) {
		e := newEnv(b, nil)
		p := newNaive(b, e)
		gin.SetMode(gin.ReleaseMode)
		r := gin.New()
		r.POST("/wx/:appid", p.ginHandler)
		runHTTP(b, e, r)
	})
	b.Run("kfbridge", func(b *testing.B) {
		e := newEnv(b, func(c *Config) { c.Ingress.TimestampWindow = 0 })
		runHTTP(b, e, e.srv.Handler())
	})
}

func runHTTP(b *testing.B, e *env, h http.Handler) {
	const conns = 64
	pushes := makePushes(b, e.codec, wxcodec.FormatXML, b.N)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String() + "/wx/" + testAppID + "?"
	transport := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	urls := make([]string, len(pushes))
	for i := range pushes {
		urls[i] = base + pushes[i].query
	}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for range conns {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				start := time.Now()
				resp, err := client.Post(urls[i], "text/xml", bytes.NewReader(pushes[i].body))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				lat[i] = time.Since(start)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pushes/s")
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
