package schemas_test

import (
	"errors"
	"fmt"

	"github.com/kfbridge/kfbridge/schemas"
)

func Example() {
	v, err := schemas.NewValidator()
	if err != nil {
		fmt.Println(err)
		return
	}

	event := []byte(`{
	  "specversion": "1.0", "id": "1234567890123456",
	  "source": "/wxkf/wx0123456789abcdef/0", "type": "weixin.kf.message.text",
	  "subject": "oABCDEF-openid_1", "time": "2016-12-18T08:11:10Z",
	  "datacontenttype": "application/json",
	  "appid": "wx0123456789abcdef", "businessid": "0",
	  "data": {
	    "appid": "wx0123456789abcdef", "business_id": "0", "openid": "oABCDEF-openid_1",
	    "to_user_name": "gh_97417a04a28d", "create_time": 1482048670,
	    "msg_type": "text", "msg_id": "1234567890123456",
	    "text": {"content": "this is a test"}
	  }
	}`)
	fmt.Println(v.Validate(schemas.InboundEvent, event))

	// The same event claiming to be an image, with msg_id as a number.
	bad := []byte(`{
	  "specversion": "1.0", "id": "1234567890123456",
	  "source": "/wxkf/wx0123456789abcdef/0", "type": "weixin.kf.message.image",
	  "subject": "oABCDEF-openid_1", "time": "2016-12-18T08:11:10Z",
	  "datacontenttype": "application/json",
	  "appid": "wx0123456789abcdef", "businessid": "0",
	  "data": {
	    "appid": "wx0123456789abcdef", "business_id": "0", "openid": "oABCDEF-openid_1",
	    "to_user_name": "gh_97417a04a28d", "create_time": 1482048670,
	    "msg_type": "text", "msg_id": 1234567890123456,
	    "text": {"content": "this is a test"}
	  }
	}`)
	err = v.Validate(schemas.InboundEvent, bad)
	fmt.Println(errors.Is(err, schemas.ErrInvalid))
	var verr *schemas.ValidationError
	if errors.As(err, &verr) {
		for _, violation := range verr.Violations {
			fmt.Println(violation)
		}
	}
	// Output:
	// <nil>
	// true
	// at "/data/msg_id": got number, want string
	// at "/type": "weixin.kf.message.image" disagrees with data: want "weixin.kf.message.text" (weixin.kf.message.<data.msg_type>)
	// at "/type": value must be 'weixin.kf.message.text'
}

// A bot checks a command before publishing it; egress checks it the same way.
func ExampleValidator_Validate_command() {
	v, err := schemas.NewValidator()
	if err != nil {
		fmt.Println(err)
		return
	}

	// Bare send data: published with a Nats-Msg-Id header as the command id.
	fmt.Println(v.Validate(schemas.SendCommandData, []byte(`{"msgtype": "image", "image": {"url": "https://example.com/cat.jpg"}}`)))

	// The same as a structured command event.
	fmt.Println(v.Validate(schemas.CommandEvent, []byte(`{
	  "specversion": "1.0", "id": "0192d3b4-7c1e-7a35-9b0e-3f1c2a4d5e6f",
	  "type": "weixin.kf.command.send",
	  "data": {"msgtype": "image", "image": {"url": "https://example.com/cat.jpg"}}
	}`)))

	// An image given two ways, with a text object besides.
	err = v.Validate(schemas.SendCommandData, []byte(`{
	  "msgtype": "image",
	  "image": {"media_id": "MEDIA_ID", "url": "https://example.com/cat.jpg"},
	  "text": {"content": "a cat"}
	}`))
	var verr *schemas.ValidationError
	if errors.As(err, &verr) {
		for _, violation := range verr.Violations {
			fmt.Println(violation)
		}
	}
	// Output:
	// <nil>
	// <nil>
	// at "/image": want exactly one of: by media_id, by url, by object; got by media_id and by url
	// at "/text": not allowed here
}
