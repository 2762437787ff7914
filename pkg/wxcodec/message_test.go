package wxcodec

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// messageTests is shared by the unit tests and the fuzz seeds.
var messageTests = []struct {
	name string
	body string
	want Message
	err  error // when set, ParseMessage must fail with it
}{
	// Text.
	{
		name: "xml text",
		body: "<xml>\n  <ToUserName><![CDATA[toUser]]></ToUserName>\n  <FromUserName><![CDATA[fromUser]]></FromUserName>\n  <CreateTime>1482048670</CreateTime>\n  <MsgType><![CDATA[text]]></MsgType>\n  <Content><![CDATA[this is a test]]></Content>\n  <MsgId>1234567890123456</MsgId>\n</xml>",
		want: Message{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "text", Content: "this is a test", MsgID: "1234567890123456"},
	},
	{
		name: "json text",
		body: `{"ToUserName":"toUser","FromUserName":"fromUser","CreateTime":1482048670,"MsgType":"text","Content":"this is a test","MsgId":1234567890123456}`,
		want: Message{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "text", Content: "this is a test", MsgID: "1234567890123456"},
	},
	{
		name: "json text business id number",
		body: `{"ToUserName":"toUser","FromUserName":"fromUser","CreateTime":1482048670,"MsgType":"text","Content":"hi","MsgId":1234567890123456,"BusinessId":1}`,
		want: Message{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "text", Content: "hi", MsgID: "1234567890123456", BusinessID: "1"},
	},
	{
		name: "json text business id string",
		body: `{"ToUserName":"toUser","FromUserName":"fromUser","CreateTime":1482048670,"MsgType":"text","Content":"hi","MsgId":1234567890123456,"BusinessId":"42"}`,
		want: Message{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "text", Content: "hi", MsgID: "1234567890123456", BusinessID: "42"},
	},
	{
		name: "xml text business id",
		body: "<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[fromUser]]></FromUserName><CreateTime>1482048670</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content><MsgId>1</MsgId><BusinessId> 7 </BusinessId></xml>",
		want: Message{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "text", Content: "hi", MsgID: "1", BusinessID: "7"},
	},
	{
		name: "json 64-bit MsgId exact",
		body: `{"MsgType":"text","Content":"x","MsgId":6054768590064713728}`,
		want: Message{MsgType: "text", Content: "x", MsgID: "6054768590064713728"},
	},
	{
		name: "xml 64-bit MsgId exact",
		body: `<xml><MsgType>text</MsgType><MsgId>6054768590064713728</MsgId></xml>`,
		want: Message{MsgType: "text", MsgID: "6054768590064713728"},
	},
	{
		name: "json MsgId string",
		body: `{"MsgType":"text","MsgId":"49d72d67b16d115e7935ac386f2f0fa41535298877_1555684067"}`,
		want: Message{MsgType: "text", MsgID: "49d72d67b16d115e7935ac386f2f0fa41535298877_1555684067"},
	},
	{
		name: "json CreateTime string",
		body: `{"MsgType":"text","CreateTime":"1620973045"}`,
		want: Message{MsgType: "text", CreateTime: 1620973045},
	},
	{
		name: "json MsgType last",
		body: `{"Content":"late","CreateTime":1,"MsgType":"text"}`,
		want: Message{MsgType: "text", Content: "late", CreateTime: 1},
	},
	{
		name: "json escapes",
		body: `{"MsgType":"text","Content":"a\"b\\c\/d\n\t\u00e9\u4e2d\ud83d\ude00 \ud800x","Msg\u0049d":"1"}`,
		want: Message{MsgType: "text", Content: "a\"b\\c/d\n\té中😀 \uFFFDx", MsgID: "1"},
	},
	{
		name: "xml entities and char refs",
		body: `<?xml version="1.0" encoding="UTF-8"?><!-- c --><xml><MsgType>text</MsgType><Content>a&lt;b&gt;&amp;&quot;&apos;&#20013;&#x1F600;<!-- x -->!<![CDATA[<&>]]></Content></xml><!-- end -->` + "\n",
		want: Message{MsgType: "text", Content: `a<b>&"'中😀!<&>`},
	},
	{
		name: "xml CRLF normalized",
		body: "<xml><MsgType>text</MsgType><Content>a\r\nb\rc&#13;</Content></xml>",
		want: Message{MsgType: "text", Content: "a\nb\nc\r"},
	},
	{
		name: "xml self-closing and empty",
		body: `<xml><MsgType>text</MsgType><Content/><ToUserName></ToUserName></xml>`,
		want: Message{MsgType: "text"},
	},
	{
		name: "xml BOM and attributes ignored on typed",
		body: "\xEF\xBB\xBF<xml a='1'><MsgType lang=\"x\">text</MsgType></xml>",
		want: Message{MsgType: "text"},
	},
	// Image.
	{
		name: "json image",
		body: `{"ToUserName":"toUser","FromUserName":"fromUser","CreateTime":1482048670,"MsgType":"image","PicUrl":"this is a url","MediaId":"media_id","MsgId":1234567890123456}`,
		want: Message{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "image", PicURL: "this is a url", MediaID: "media_id", MsgID: "1234567890123456"},
	},
	{
		name: "xml image",
		body: `<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[fromUser]]></FromUserName><CreateTime>1482048670</CreateTime><MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[this is a url]]></PicUrl><MediaId><![CDATA[media_id]]></MediaId><MsgId>1234567890123456</MsgId></xml>`,
		want: Message{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "image", PicURL: "this is a url", MediaID: "media_id", MsgID: "1234567890123456"},
	},
	// Mini program card.
	{
		name: "json miniprogrampage",
		body: `{"ToUserName":"toUser","FromUserName":"fromUser","CreateTime":1482048670,"MsgType":"miniprogrampage","MsgId":1234567890123456,"Title":"title","AppId":"appid","PagePath":"path","ThumbUrl":"","ThumbMediaId":""}`,
		want: Message{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "miniprogrampage", MsgID: "1234567890123456", Title: "title", AppID: "appid", PagePath: "path"},
	},
	{
		name: "xml miniprogrampage",
		body: `<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[fromUser]]></FromUserName><CreateTime>1482048670</CreateTime><MsgType><![CDATA[miniprogrampage]]></MsgType><MsgId>1234567890123456</MsgId><Title><![CDATA[title]]></Title><AppId><![CDATA[appid]]></AppId><PagePath><![CDATA[path]]></PagePath><ThumbUrl><![CDATA[http://x/t.jpg]]></ThumbUrl><ThumbMediaId><![CDATA[tm]]></ThumbMediaId></xml>`,
		want: Message{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "miniprogrampage", MsgID: "1234567890123456", Title: "title", AppID: "appid", PagePath: "path", ThumbURL: "http://x/t.jpg", ThumbMediaID: "tm"},
	},
	// Events.
	{
		name: "json user_enter_tempsession",
		body: `{"ToUserName":"toUser","FromUserName":"fromUser","CreateTime":1482048670,"MsgType":"event","Event":"user_enter_tempsession","SessionFrom":"sessionFrom"}`,
		want: Message{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "event", Event: "user_enter_tempsession", SessionFrom: "sessionFrom"},
	},
	{
		name: "xml user_enter_tempsession with business id",
		body: `<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[fromUser]]></FromUserName><CreateTime>1482048670</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[user_enter_tempsession]]></Event><SessionFrom><![CDATA[sessionFrom]]></SessionFrom><BusinessId>3</BusinessId></xml>`,
		want: Message{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "event", Event: "user_enter_tempsession", SessionFrom: "sessionFrom", BusinessID: "3"},
	},
	{
		name: "json debug_demo",
		body: `{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}`,
		want: Message{ToUserName: "gh_97417a04a28d", FromUserName: "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", CreateTime: 1714112445, MsgType: "event", Event: "debug_demo", Extra: []Field{{"debug_str", raw(`"hello world"`)}}},
	},
	{
		name: "xml debug_demo",
		body: "<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName>\n<FromUserName><![CDATA[o9AgO5Kd5ggOC-bXrbNODIiE3bGY]]></FromUserName>\n<CreateTime>1715943329</CreateTime>\n<MsgType><![CDATA[event]]></MsgType>\n<Event><![CDATA[debug_demo]]></Event>\n<debug_str><![CDATA[hello world]]></debug_str>\n</xml>",
		want: Message{ToUserName: "gh_97417a04a28d", FromUserName: "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", CreateTime: 1715943329, MsgType: "event", Event: "debug_demo", Extra: []Field{{"debug_str", raw(`"hello world"`)}}},
	},
	{
		name: "xml subscribe_msg_popup_event repeated List",
		body: `<xml><ToUserName><![CDATA[gh_123456789abc]]></ToUserName><FromUserName><![CDATA[otFpruAK8D-E6EfStSYonYSBZ8_4]]></FromUserName><CreateTime>1610969440</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_popup_event]]></Event><SubscribeMsgPopupEvent><List><TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId><SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString><PopupScene>2</PopupScene></List><List><TemplateId><![CDATA[9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString><PopupScene>2</PopupScene></List></SubscribeMsgPopupEvent></xml>`,
		want: Message{ToUserName: "gh_123456789abc", FromUserName: "otFpruAK8D-E6EfStSYonYSBZ8_4", CreateTime: 1610969440, MsgType: "event", Event: "subscribe_msg_popup_event", Extra: []Field{
			{"SubscribeMsgPopupEvent", raw(`{"List":[{"TemplateId":"VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc","SubscribeStatusString":"accept","PopupScene":"2"},{"TemplateId":"9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI","SubscribeStatusString":"reject","PopupScene":"2"}]}`)},
		}},
	},
	{
		name: "xml subscribe_msg_popup_event single List",
		body: "<xml><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_popup_event]]></Event><SubscribeMsgPopupEvent>\n  <List>\n    <TemplateId>t1</TemplateId>\n    <PopupScene>0</PopupScene>\n  </List>\n</SubscribeMsgPopupEvent></xml>",
		want: Message{MsgType: "event", Event: "subscribe_msg_popup_event", Extra: []Field{
			{"SubscribeMsgPopupEvent", raw(`{"List":{"TemplateId":"t1","PopupScene":"0"}}`)},
		}},
	},
	{
		name: "json subscribe_msg_popup_event List array",
		body: `{"ToUserName":"gh_123456789abc","FromUserName":"o_x","CreateTime":"1610969440","MsgType":"event","Event":"subscribe_msg_popup_event","List":[{"TemplateId":"a","SubscribeStatusString":"accept","PopupScene":"2"},{"TemplateId":"b","SubscribeStatusString":"reject","PopupScene":"2"}]}`,
		want: Message{ToUserName: "gh_123456789abc", FromUserName: "o_x", CreateTime: 1610969440, MsgType: "event", Event: "subscribe_msg_popup_event", Extra: []Field{
			{"List", raw(`[{"TemplateId":"a","SubscribeStatusString":"accept","PopupScene":"2"},{"TemplateId":"b","SubscribeStatusString":"reject","PopupScene":"2"}]`)},
		}},
	},
	{
		name: "json subscribe_msg_popup_event List object",
		body: `{"MsgType":"event","Event":"subscribe_msg_popup_event","List": {"TemplateId": "a", "PopupScene": 2}}`,
		want: Message{MsgType: "event", Event: "subscribe_msg_popup_event", Extra: []Field{
			{"List", raw(`{"TemplateId": "a", "PopupScene": 2}`)},
		}},
	},
	// Unknown kinds: every kind field goes to Extra.
	{
		name: "xml video nested (V5b)",
		body: `<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>`,
		want: Message{ToUserName: "oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw", FromUserName: "gh_7f083739789a", CreateTime: 1407743423, MsgType: "video", Extra: []Field{
			{"Video", raw(`{"MediaId":"eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0","Title":"testCallBackReplyVideo","Description":"testCallBackReplyVideo"}`)},
		}},
	},
	{
		name: "xml voice kind fields to extra",
		body: `<xml><MsgType>voice</MsgType><MediaId>m1</MediaId><Content>c</Content><Format>amr</Format><MsgId>9</MsgId><Format>speex</Format></xml>`,
		want: Message{MsgType: "voice", MsgID: "9", Extra: []Field{
			{"MediaId", raw(`"m1"`)}, {"Content", raw(`"c"`)}, {"Format", raw(`["amr","speex"]`)},
		}},
	},
	{
		name: "json video kind fields to extra",
		body: `{"MsgType":"video","MediaId":"m","ThumbMediaId":"t","Content":5,"Event":null,"x":{"a":[1,2.5e3,true]}}`,
		want: Message{MsgType: "video", Extra: []Field{
			{"MediaId", raw(`"m"`)}, {"ThumbMediaId", raw(`"t"`)}, {"Content", raw(`5`)}, {"Event", raw(`null`)}, {"x", raw(`{"a":[1,2.5e3,true]}`)},
		}},
	},
	{
		name: "xml attributes and mixed text",
		body: `<xml><MsgType>event</MsgType><Event>x</Event><Info id="1" kind='a&amp;b'> hi </Info><Mixed>before<A>1</A> after <B/><A>2</A></Mixed><Empty/><Item a="1"/></xml>`,
		want: Message{MsgType: "event", Event: "x", Extra: []Field{
			{"Info", raw(`{"@id":"1","@kind":"a&b","#text":" hi "}`)},
			{"Mixed", raw(`{"#text":"before after","A":["1","2"],"B":""}`)},
			{"Empty", raw(`""`)},
			{"Item", raw(`{"@a":"1"}`)},
		}},
	},
	{
		name: "xml other root name",
		body: `<root><MsgType>text</MsgType></root>`,
		want: Message{MsgType: "text"},
	},
	{
		name: "json negative CreateTime",
		body: `{"MsgType":"text","CreateTime":-5}`,
		want: Message{MsgType: "text", CreateTime: -5},
	},
	{
		name: "json repeated extra becomes an array",
		body: `{"MsgType":"text","X":1,"Y":"a","X":{"b":2},"\u0058":[3],"Y":"b"}`,
		want: Message{MsgType: "text", Extra: []Field{{"X", raw(`[1,{"b":2},[3]]`)}, {"Y", raw(`["a","b"]`)}}},
	},
	{
		name: "json repeated field of another kind becomes an array",
		body: `{"MsgType":"image","Content":"a","PicUrl":"p","Content":"b"}`,
		want: Message{MsgType: "image", PicURL: "p", Extra: []Field{{"Content", raw(`["a","b"]`)}}},
	},
	{
		name: "xml repeated field of another kind becomes an array",
		body: `<xml><MsgType>image</MsgType><Content>a</Content><PicUrl>p</PicUrl><Content>b</Content></xml>`,
		want: Message{MsgType: "image", PicURL: "p", Extra: []Field{{"Content", raw(`["a","b"]`)}}},
	},
	{
		name: "json nested 32 levels",
		body: `{"MsgType":"text","X":` + strings.Repeat(`[`, 31) + strings.Repeat(`]`, 31) + `}`,
		want: Message{MsgType: "text", Extra: []Field{{"X", raw(strings.Repeat(`[`, 31) + strings.Repeat(`]`, 31))}}},
	},
	{
		name: "xml nested 32 levels",
		body: "<xml><MsgType>text</MsgType>" + strings.Repeat("<a>", 30) + "<b/>" + strings.Repeat("</a>", 30) + "</xml>",
		want: Message{MsgType: "text", Extra: []Field{{"a", raw(strings.Repeat(`{"a":`, 29) + `{"b":""}` + strings.Repeat("}", 29))}}},
	},
	// Malformed.
	{name: "empty", body: "", err: ErrFormat},
	{name: "not a document", body: "success", err: ErrFormat},
	{name: "array", body: `[1]`, err: ErrFormat},
	{name: "json truncated", body: `{"MsgType":"text"`, err: ErrSyntax},
	{name: "json trailing", body: `{"MsgType":"text"} x`, err: ErrSyntax},
	{name: "json invalid utf8", body: "{\"MsgType\":\"text\",\"Content\":\"\xff\"}", err: ErrSyntax},
	{name: "json missing MsgType", body: `{"Content":"x"}`, err: ErrMissingField},
	{name: "json empty MsgType", body: `{"MsgType":""}`, err: ErrMissingField},
	{name: "json MsgType number", body: `{"MsgType":1}`, err: ErrField},
	{name: "json duplicate MsgType", body: `{"MsgType":"text","MsgType":"image"}`, err: ErrField},
	{name: "json duplicate Content", body: `{"MsgType":"text","Content":"a","Content":"b"}`, err: ErrField},
	{name: "json duplicate ToUserName escaped", body: `{"MsgType":"text","ToUserName":"a","To\u0055serName":"b"}`, err: ErrField},
	{name: "json too deep", body: `{"MsgType":"text","X":` + strings.Repeat(`{"a":`, 32) + "1" + strings.Repeat(`}`, 32) + `}`, err: ErrSyntax},
	{name: "json too deep in an array", body: `{"MsgType":"text","X":` + strings.Repeat(`[`, 32) + strings.Repeat(`]`, 32) + `}`, err: ErrSyntax},
	{name: "json nested repeated name", body: `{"MsgType":"text","X":[{"a":1,"b":2,"\u0061":3}]}`, err: ErrSyntax},
	{name: "json nested repeated name among many", body: `{"MsgType":"text","X":{` + manyNames(100) + `,"\u006e5":0}}`, err: ErrSyntax},
	{name: "json event without Event", body: `{"MsgType":"event"}`, err: ErrMissingField},
	{name: "json CreateTime float", body: `{"MsgType":"text","CreateTime":1.5}`, err: ErrField},
	{name: "json CreateTime exponent", body: `{"MsgType":"text","CreateTime":1e9}`, err: ErrField},
	{name: "json CreateTime overflow", body: `{"MsgType":"text","CreateTime":99999999999999999999}`, err: ErrField},
	{name: "json CreateTime bad string", body: `{"MsgType":"text","CreateTime":"12a"}`, err: ErrField},
	{name: "json CreateTime bool", body: `{"MsgType":"text","CreateTime":true}`, err: ErrField},
	{name: "json MsgId float", body: `{"MsgType":"text","MsgId":1.0}`, err: ErrField},
	{name: "json MsgId object", body: `{"MsgType":"text","MsgId":{}}`, err: ErrField},
	{name: "json BusinessId float", body: `{"MsgType":"text","BusinessId":1.5}`, err: ErrField},
	{name: "json Content number", body: `{"MsgType":"text","Content":1}`, err: ErrField},
	{name: "json ToUserName null", body: `{"MsgType":"text","ToUserName":null}`, err: ErrField},
	{name: "xml truncated", body: `<xml><MsgType>text</MsgType>`, err: ErrSyntax},
	{name: "xml mismatched", body: `<xml><MsgType>text</Msgtype></xml>`, err: ErrSyntax},
	{name: "xml doctype", body: `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x "y">]><xml><MsgType>text</MsgType></xml>`, err: ErrSyntax},
	{name: "xml unknown entity", body: `<xml><MsgType>te&x;xt</MsgType></xml>`, err: ErrSyntax},
	{name: "xml bare ampersand", body: `<xml><MsgType>a & b</MsgType></xml>`, err: ErrSyntax},
	{name: "xml bad char ref", body: `<xml><MsgType>&#0;</MsgType></xml>`, err: ErrSyntax},
	{name: "xml control char", body: "<xml><MsgType>a\x01</MsgType></xml>", err: ErrSyntax},
	{name: "xml trailing garbage", body: `<xml><MsgType>text</MsgType></xml>x`, err: ErrSyntax},
	{name: "xml second root", body: `<xml><MsgType>text</MsgType></xml><xml/>`, err: ErrSyntax},
	{name: "xml text in root", body: `<xml>hi<MsgType>text</MsgType></xml>`, err: ErrSyntax},
	{name: "xml text before root", body: `x<xml/>`, err: ErrFormat},
	{name: "xml unterminated CDATA", body: `<xml><MsgType><![CDATA[text</MsgType></xml>`, err: ErrSyntax},
	{name: "xml unterminated comment", body: `<xml><!-- </xml>`, err: ErrSyntax},
	{name: "xml duplicate attribute", body: `<xml><MsgType a="1" a="2">text</MsgType></xml>`, err: ErrSyntax},
	{name: "xml duplicate attribute among many", body: `<xml><MsgType ` + manyAttrs(100) + ` n5="">text</MsgType></xml>`, err: ErrSyntax},
	{name: "xml unquoted attribute", body: `<xml><MsgType a=1>text</MsgType></xml>`, err: ErrSyntax},
	{name: "xml lt in attribute", body: `<xml><MsgType a="<">text</MsgType></xml>`, err: ErrSyntax},
	{name: "xml invalid utf8", body: "<xml><MsgType>\xc3\x28</MsgType></xml>", err: ErrSyntax},
	{name: "xml too deep", body: "<xml><MsgType>text</MsgType><a>" + strings.Repeat("<a>", 31) + strings.Repeat("</a>", 32) + "</xml>", err: ErrSyntax},
	{name: "xml missing MsgType", body: `<xml><Content>x</Content></xml>`, err: ErrMissingField},
	{name: "xml self-closing root", body: `<xml/>`, err: ErrMissingField},
	{name: "xml duplicate MsgType", body: `<xml><MsgType>text</MsgType><MsgType>text</MsgType></xml>`, err: ErrField},
	{name: "xml duplicate FromUserName", body: `<xml><MsgType>text</MsgType><FromUserName>a</FromUserName><FromUserName>b</FromUserName></xml>`, err: ErrField},
	{name: "xml MsgType with children", body: `<xml><MsgType><a/></MsgType></xml>`, err: ErrField},
	{name: "xml Content with children", body: `<xml><MsgType>text</MsgType><Content><b>x</b></Content></xml>`, err: ErrField},
	{name: "xml CreateTime text", body: `<xml><MsgType>text</MsgType><CreateTime>soon</CreateTime></xml>`, err: ErrField},
	{name: "xml CreateTime empty", body: `<xml><MsgType>text</MsgType><CreateTime></CreateTime></xml>`, err: ErrField},
	{name: "xml event without Event", body: `<xml><MsgType>event</MsgType><Event></Event></xml>`, err: ErrMissingField},
}

func TestParseMessage(t *testing.T) {
	for _, tt := range messageTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMessage([]byte(tt.body))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Errorf("ParseMessage(%q) = %v, want %v", tt.body, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMessage(%q) = %v, want nil", tt.body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseMessage(%q) mismatch (-want +got):\n%s", tt.body, diff)
			}
			for _, x := range got.Extra {
				if !json.Valid(x.Value) {
					t.Errorf("ParseMessage(%q): Extra %s = %s is not valid JSON", tt.body, x.Name, x.Value)
				}
			}
			checkRoundtrip(t, []byte(tt.body), got)
		})
	}
}

// checkRoundtrip encodes m in the format of body and parses it back.
func checkRoundtrip(t *testing.T, body []byte, m Message) {
	t.Helper()
	f, err := Sniff(body)
	if err != nil {
		t.Fatalf("Sniff(%q) = %v", body, err)
	}
	enc, err := EncodeMessage(f, m)
	if err != nil {
		t.Fatalf("EncodeMessage(%v, %+v) = %v", f, m, err)
	}
	back, err := ParseMessage(enc)
	if err != nil {
		t.Fatalf("ParseMessage(EncodeMessage(%q)) = ParseMessage(%q) = %v", body, enc, err)
	}
	if diff := cmp.Diff(normalizeExtra(m), normalizeExtra(back)); diff != "" {
		t.Errorf("roundtrip of %q via %q mismatch (-want +got):\n%s", body, enc, diff)
	}
}

// normalizeExtra compacts the JSON Extra values (EncodeMessage keeps them
// verbatim, so only JSON whitespace may differ... and not even that).
func normalizeExtra(m Message) Message {
	if m.Extra == nil {
		return m
	}
	x := make([]Field, len(m.Extra))
	for i, f := range m.Extra {
		x[i] = Field{Name: f.Name, Value: append(json.RawMessage(nil), f.Value...)}
	}
	m.Extra = x
	return m
}

func TestParseMessageDoesNotAlias(t *testing.T) {
	body := []byte(`{"MsgType":"video","x":{"a":1}}`)
	m, err := ParseMessage(body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = ' '
	}
	if string(m.Extra[0].Value) != `{"a":1}` || m.MsgType != "video" {
		t.Errorf("ParseMessage result changed with its input: %+v", m)
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Format
		err  error
	}{
		{name: "xml", body: "<xml/>", want: FormatXML},
		{name: "xml ws", body: " \r\n\t<xml/>", want: FormatXML},
		{name: "json", body: "{}", want: FormatJSON},
		{name: "json bom", body: "\xEF\xBB\xBF {}", want: FormatJSON},
		{name: "empty", body: "", err: ErrFormat},
		{name: "spaces", body: "   ", err: ErrFormat},
		{name: "text", body: "success", err: ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sniff([]byte(tt.body))
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("Sniff(%q) = %v, %v, want %v, %v", tt.body, got, err, tt.want, tt.err)
			}
		})
	}
}

// manyNames returns the members "n0":0,...; manyAttrs the attributes n0="" ...
func manyNames(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"n%d":0`, i)
	}
	return b.String()
}

func manyAttrs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, ` n%d=""`, i)
	}
	return b.String()
}
