"""The official `anthropic` SDK and `ollama` library against the sim
provider (engine/tests/sdk_conformance.rs starts it and passes its root URL
and key). Each check is one thing a real client does; a sim that does not
speak the wire makes the client raise or read something else.

Usage: conformance.py <root-url> <api-key>
"""

import sys
import traceback

import anthropic
import ollama

ROOT, KEY = sys.argv[1], sys.argv[2]
TOOL = 'tool(write_file, {"path": "a.txt", "content": "x, y"})'
ARGS = {"path": "a.txt", "content": "x, y"}
TOOLS_ANTHROPIC = [{"name": "write_file", "description": "write a file",
                    "input_schema": {"type": "object"}}]
TOOLS_OLLAMA = [{"type": "function", "function": {
    "name": "write_file", "description": "write a file",
    "parameters": {"type": "object", "properties": {}}}}]
HELLO = [{"role": "user", "content": "hello"}]

claude = anthropic.Anthropic(base_url=ROOT, api_key=KEY, max_retries=0)
local = ollama.Client(host=ROOT, headers={"Authorization": f"Bearer {KEY}"})
checks = []


def check(fn):
    checks.append(fn)
    return fn


def raises(kind, fn):
    try:
        fn()
    except kind as e:
        return e
    raise AssertionError(f"expected {kind.__name__}")


@check
def anthropic_text():
    m = claude.messages.create(model="ok", max_tokens=64, system="be brief", messages=HELLO)
    assert m.content[0].type == "text" and m.content[0].text == "sim ok ok", m
    assert m.stop_reason == "end_turn" and m.usage.output_tokens > 0, m


@check
def anthropic_tool_call():
    m = claude.messages.create(model=TOOL, max_tokens=64, messages=HELLO, tools=TOOLS_ANTHROPIC)
    block = m.content[0]
    assert block.type == "tool_use" and block.name == "write_file", m
    assert block.input == ARGS and block.id, m
    assert m.stop_reason == "tool_use", m


@check
def anthropic_stream_text():
    with claude.messages.stream(model="ok", max_tokens=64, messages=HELLO) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "sim ok ok", text
    assert final.content[0].text == "sim ok ok" and final.usage.output_tokens > 0, final


@check
def anthropic_stream_tool_call():
    # The SDK joins the input_json_delta pieces and parses them.
    with claude.messages.stream(model=TOOL, max_tokens=64, messages=HELLO,
                                tools=TOOLS_ANTHROPIC) as s:
        final = s.get_final_message()
    assert final.content[0].type == "tool_use" and final.content[0].input == ARGS, final
    assert final.stop_reason == "tool_use", final


@check
def anthropic_errors_are_the_sdks_classes():
    e = raises(anthropic.RateLimitError, lambda: claude.messages.create(
        model="rate_limit(5)", max_tokens=8, messages=HELLO))
    assert e.response.headers["retry-after"] == "5", e.response.headers
    assert e.body["error"]["type"] == "rate_limit_error", e.body
    for model, kind, error_type in [
        ("overloaded", anthropic.APIStatusError, "overloaded_error"),
        ("auth", anthropic.AuthenticationError, "authentication_error"),
        ("auth_permanent", anthropic.PermissionDeniedError, "permission_error"),
        ("model_not_found", anthropic.NotFoundError, "not_found_error"),
        ("context_overflow", anthropic.BadRequestError, "invalid_request_error"),
        ("server_error", anthropic.InternalServerError, "api_error"),
    ]:
        e = raises(kind, lambda: claude.messages.create(model=model, max_tokens=8, messages=HELLO))
        assert e.body["error"]["type"] == error_type, (model, e.body)
    assert raises(anthropic.APIStatusError, lambda: claude.messages.create(
        model="overloaded", max_tokens=8, messages=HELLO)).status_code == 529
    wrong = anthropic.Anthropic(base_url=ROOT, api_key="sk-wrong", max_retries=0)
    raises(anthropic.AuthenticationError, lambda: wrong.messages.create(
        model="ok", max_tokens=8, messages=HELLO))


@check
def anthropic_error_event_mid_stream():
    def consume():
        with claude.messages.stream(model="stream_error_after(1)", max_tokens=64,
                                    messages=HELLO) as s:
            for _ in s.text_stream:
                pass
    e = raises(anthropic.APIStatusError, consume)
    assert e.body["error"]["type"] == "overloaded_error", e.body


@check
def anthropic_models_list():
    ids = [m.id for m in claude.models.list()]
    assert ids == ["listed"], ids


@check
def ollama_text():
    r = local.chat(model="ok", messages=HELLO, stream=False)
    assert r.message.content == "sim ok ok" and r.done and r.done_reason == "stop", r
    assert r.eval_count > 0, r


@check
def ollama_stream_text():
    parts = list(local.chat(model="ok", messages=HELLO, stream=True))
    assert "".join(p.message.content for p in parts) == "sim ok ok", parts
    assert parts[-1].done and not any(p.done for p in parts[:-1]), parts
    assert parts[-1].eval_count > 0, parts[-1]


@check
def ollama_tool_call():
    for stream in (False, True):
        r = local.chat(model=TOOL, messages=HELLO, tools=TOOLS_OLLAMA, stream=stream)
        calls = [c for p in (r if stream else [r]) for c in (p.message.tool_calls or [])]
        assert len(calls) == 1 and calls[0].function.name == "write_file", calls
        assert dict(calls[0].function.arguments) == ARGS, calls


@check
def ollama_errors_are_response_errors():
    for model, status, words in [
        ("model_not_found", 404, "not found, try pulling it first"),
        ("rate_limit(3)", 429, "too many requests"),
        ("usage_limit", 429, "weekly usage limit"),
        ("overloaded", 503, "server busy"),
        ("context_overflow", 400, "exceeds the context length"),
        ("server_error", 500, "failed to generate"),
    ]:
        e = raises(ollama.ResponseError, lambda: local.chat(model=model, messages=HELLO, stream=False))
        assert e.status_code == status and words in e.error, (model, e.status_code, e.error)
    wrong = ollama.Client(host=ROOT, headers={"Authorization": "Bearer sk-wrong"})
    e = raises(ollama.ResponseError, lambda: wrong.chat(model="ok", messages=HELLO, stream=False))
    assert e.status_code == 401 and e.error == "unauthorized", e


@check
def ollama_error_line_mid_stream():
    seen = []

    def consume():
        for part in local.chat(model="stream_error_after(1)", messages=HELLO, stream=True):
            seen.append(part.message.content)
    e = raises(ollama.ResponseError, consume)
    assert seen == ["sim "], seen
    assert "error was encountered while running the model" in e.error, e.error


@check
def ollama_models_list():
    names = [m.model for m in local.list().models]
    assert names == ["listed"], names


failed = 0
for fn in checks:
    try:
        fn()
        print(f"ok    {fn.__name__}")
    except Exception:  # noqa: BLE001 - every failure is reported, none stops the rest
        failed += 1
        print(f"FAIL  {fn.__name__}")
        traceback.print_exc(file=sys.stdout)
print(f"{len(checks) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
