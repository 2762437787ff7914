/*
 * echobot.c: the kfbridge echo bot in C, on the official NATS C client
 * (nats.c, Debian's libnats-dev) and cJSON. It behaves as the Go echo bot
 * (examples/echobot): it pulls pushes from its durable consumer on WXKF_IN,
 * answers each user message with a "typing" command and then a reply
 * command on wxkf.out.<appid>.<bid>.<openid>.<verb>, greets a user who
 * enters the session, and logs the results it pulls from WXKF_RESULT. It
 * uses nothing of kfbridge but NATS subjects and JSON: the contract.
 *
 *   cc -o echobot echobot.c $(pkg-config --cflags --libs libnats libcjson)
 *   ECHOBOT_PASSWORD=... ./echobot --nats nats://127.0.0.1:4222 --user cbot
 *
 * Without --user it binds to the durable consumers named "echobot", which
 * must exist. A bot account of kfbridge's embedded server uses the
 * consumers the bridge made for its nats.embedded.users entry (named after
 * the user). It runs until SIGINT or SIGTERM.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <nats/nats.h>

static volatile sig_atomic_t stopping = 0;

static void on_signal(int sig) { (void)sig; stopping = 1; }

/* A subject token: '.', '*', '>' and whitespace cannot appear in one. */
static bool valid_token(const char *s) {
    if (s == NULL || *s == '\0') return false;
    for (; *s; s++) {
        if (*s == '.' || *s == '*' || *s == '>' || *s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') return false;
    }
    return true;
}

static const char *str(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* publish sends one command as a structured CloudEvent; its id doubles as
 * Nats-Msg-Id, so a redelivered push does not produce a second reply. */
static natsStatus publish(jsCtx *js, const char *appid, const char *bid, const char *openid,
                          const char *verb, const char *id, cJSON *data, const char *traceparent) {
    char subject[512];
    int n = snprintf(subject, sizeof subject, "wxkf.out.%s.%s.%s.%s", appid, bid, openid, verb);
    if (n < 0 || (size_t)n >= sizeof subject) return NATS_INVALID_ARG;
    char type[64];
    snprintf(type, sizeof type, "weixin.kf.command.%s", verb);

    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "specversion", "1.0");
    cJSON_AddStringToObject(ev, "id", id);
    cJSON_AddStringToObject(ev, "source", "/examples/cbot");
    cJSON_AddStringToObject(ev, "type", type);
    cJSON_AddItemToObject(ev, "data", data); /* ev owns data now */
    char *body = cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);
    if (body == NULL) return NATS_NO_MEMORY;

    natsMsg *msg = NULL;
    natsStatus s = natsMsg_Create(&msg, subject, NULL, body, (int)strlen(body));
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Nats-Msg-Id", id);
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Content-Type", "application/cloudevents+json");
    if (s == NATS_OK && traceparent != NULL && *traceparent) s = natsMsgHeader_Set(msg, "traceparent", traceparent);
    jsPubAck *ack = NULL;
    jsErrCode jerr = 0;
    if (s == NATS_OK) s = js_PublishMsg(&ack, js, msg, NULL, &jerr);
    jsPubAck_Destroy(ack);
    natsMsg_Destroy(msg);
    free(body);
    return s;
}

static cJSON *text_reply(const char *content) {
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "msgtype", "text");
    cJSON *text = cJSON_AddObjectToObject(data, "text");
    cJSON_AddStringToObject(text, "content", content);
    return data;
}

/* answer replies to one push and acknowledges it (or asks for it again). */
static void answer(jsCtx *js, natsMsg *m) {
    cJSON *ev = cJSON_ParseWithLength(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
    const cJSON *d = ev ? cJSON_GetObjectItemCaseSensitive(ev, "data") : NULL;
    const char *id = ev ? str(ev, "id") : NULL;
    const char *openid = ev ? str(ev, "subject") : NULL;
    const char *appid = d ? str(d, "appid") : NULL;
    const char *bid = d ? str(d, "business_id") : NULL;
    if (id == NULL || !valid_token(openid) || !valid_token(appid) || !valid_token(bid)) {
        fprintf(stderr, "cbot: unreadable push skipped on %s\n", natsMsg_GetSubject(m));
        natsMsg_Ack(m, NULL);
        cJSON_Delete(ev);
        return;
    }
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(d, "text");
    const cJSON *page = cJSON_GetObjectItemCaseSensitive(d, "miniprogrampage");
    const cJSON *event = cJSON_GetObjectItemCaseSensitive(d, "event");
    char *reply = NULL;
    if (text != NULL && str(text, "content") != NULL) {
        const char *c = str(text, "content");
        reply = malloc(strlen(c) + 7);
        if (reply) sprintf(reply, "echo: %s", c);
    } else if (cJSON_GetObjectItemCaseSensitive(d, "image") != NULL) {
        reply = strdup("Nice picture!");
    } else if (page != NULL && str(page, "title") != NULL) {
        const char *t = str(page, "title");
        reply = malloc(strlen(t) + 32);
        if (reply) sprintf(reply, "Thanks for sharing \xe2\x80\x9c%s\xe2\x80\x9d.", t);
    } else if (event != NULL && str(event, "name") != NULL && strcmp(str(event, "name"), "user_enter_tempsession") == 0) {
        reply = strdup("Hi! I am the kfbridge echo bot. Send me anything.");
    }
    if (reply == NULL) { /* nothing to say */
        natsMsg_Ack(m, NULL);
        cJSON_Delete(ev);
        return;
    }
    const char *trace = NULL;
    natsMsgHeader_Get(m, "traceparent", &trace);
    char cid[160];
    if (event == NULL) {
        /* Typing first: the egress keeps a conversation's commands in order. */
        cJSON *typing = cJSON_CreateObject();
        cJSON_AddStringToObject(typing, "command", "Typing");
        snprintf(cid, sizeof cid, "typing-%s", id);
        natsStatus s = publish(js, appid, bid, openid, "typing", cid, typing, trace);
        if (s != NATS_OK) fprintf(stderr, "cbot: typing not published: %s\n", natsStatus_GetText(s));
    }
    snprintf(cid, sizeof cid, "echo-%s", id);
    natsStatus s = publish(js, appid, bid, openid, "send", cid, text_reply(reply), trace);
    if (s != NATS_OK) {
        fprintf(stderr, "cbot: reply not published (%s); the push will be redelivered\n", natsStatus_GetText(s));
        natsMsg_NakWithDelay(m, 1000, NULL);
    } else {
        printf("cbot: answered %s\n", id);
        natsMsg_Ack(m, NULL);
    }
    fflush(stdout);
    free(reply);
    cJSON_Delete(ev);
}

static void log_result(natsMsg *m) {
    cJSON *ev = cJSON_ParseWithLength(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
    const cJSON *d = ev ? cJSON_GetObjectItemCaseSensitive(ev, "data") : NULL;
    if (d != NULL) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(d, "errcode");
        const char *reason = str(d, "reason");
        printf("cbot: result command_id=%s outcome=%s errcode=%d reason=%s\n",
               str(d, "command_id") ? str(d, "command_id") : "?", str(d, "outcome") ? str(d, "outcome") : "?",
               cJSON_IsNumber(code) ? code->valueint : 0, reason ? reason : "");
        fflush(stdout);
    }
    cJSON_Delete(ev);
    natsMsg_Ack(m, NULL);
}

/* bind pulls from the existing durable consumer name on stream. */
static natsStatus bind(natsSubscription **sub, jsCtx *js, const char *stream, const char *name) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.Consumer = name;
    jsErrCode jerr = 0;
    natsStatus s = js_PullSubscribe(sub, js, NULL, name, NULL, &so, &jerr);
    if (s != NATS_OK)
        fprintf(stderr, "cbot: consumer %s on %s (is it listed in the bot's nats.embedded.users entry?): %s (%d)\n",
                name, stream, natsStatus_GetText(s), (int)jerr);
    return s;
}

static void pull(natsSubscription *sub, jsCtx *js, bool results) {
    natsMsgList list = {0};
    jsErrCode jerr = 0;
    natsStatus s = natsSubscription_Fetch(&list, sub, 64, 250, &jerr);
    if (s != NATS_OK) return; /* NATS_TIMEOUT: nothing waiting */
    for (int i = 0; i < list.Count; i++) {
        if (results) log_result(list.Msgs[i]);
        else answer(js, list.Msgs[i]);
    }
    natsMsgList_Destroy(&list);
}

int main(int argc, char **argv) {
    const char *url = NATS_DEFAULT_URL, *user = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--nats") == 0 && i + 1 < argc) url = argv[++i];
        else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc) user = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--nats URL] [--user NAME]  (password in $ECHOBOT_PASSWORD)\n", argv[0]);
            return 2;
        }
    }
    const char *name = user ? user : "echobot";
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    natsOptions *opts = NULL;
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsSubscription *pushes = NULL, *results = NULL;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK) s = natsOptions_SetURL(opts, url);
    if (s == NATS_OK) s = natsOptions_SetName(opts, "cbot");
    if (s == NATS_OK && user) {
        const char *pw = getenv("ECHOBOT_PASSWORD");
        s = natsOptions_SetUserInfo(opts, user, pw ? pw : "");
    }
    if (s == NATS_OK) s = natsConnection_Connect(&nc, opts);
    if (s == NATS_OK) s = natsConnection_JetStream(&js, nc, NULL);
    if (s == NATS_OK) s = bind(&pushes, js, "WXKF_IN", name);
    if (s == NATS_OK) s = bind(&results, js, "WXKF_RESULT", name);
    if (s != NATS_OK) {
        fprintf(stderr, "cbot: %s\n", natsStatus_GetText(s));
    } else {
        printf("cbot running, consumer %s\n", name);
        fflush(stdout);
        while (!stopping) {
            pull(pushes, js, false);
            pull(results, js, true);
        }
    }
    natsSubscription_Destroy(pushes);
    natsSubscription_Destroy(results);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(opts);
    nats_Close();
    return s == NATS_OK ? 0 : 1;
}
