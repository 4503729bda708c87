"""Runs a complete Task Group workflow with the official Python SDK (`parallel-web`)
against the emulator and checks every object the SDK hands back against the SDK's own
pydantic models, strictly: no unknown keys, every declared field sent by the server
(explicit nulls included), and a full re-validation of the values.

Started by `cargo xtask sdk-compat` with PARALLEL_BASE_URL and PARALLEL_API_KEY set.
Exits non-zero on the first broken expectation and prints a one-line summary either way.
"""

import os
import sys
import traceback

import pydantic
from parallel import Parallel, AuthenticationError, NotFoundError, UnprocessableEntityError
from parallel import types as pt

# Fields the SDK declares that the API does not send unless they were given.
OPTIONAL_ON_THE_WIRE = {
    "RunInput": {"memory_scope_key"},
}

passed = 0


def ok(condition, what):
    global passed
    if not condition:
        raise AssertionError(what)
    passed += 1


def check_model(obj, path="object"):
    """Strictly validates an SDK object and everything nested in it."""
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            check_model(item, f"{path}[{i}]")
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            check_model(value, f"{path}.{key}")
        return
    if not isinstance(obj, pydantic.BaseModel):
        return
    cls = type(obj)
    # The SDK's non-validating constructor also files aliased keys (`taskgroup_id`) under
    # extras, so only keys that are neither a field name nor an alias are unknown.
    known = set(cls.model_fields) | {f.alias for f in cls.model_fields.values() if f.alias}
    extra = {k: v for k, v in (obj.model_extra or {}).items() if k not in known}
    ok(not extra, f"{path} ({cls.__name__}) has keys the SDK does not know: {sorted(extra)}")
    expected = set(cls.model_fields) - OPTIONAL_ON_THE_WIRE.get(cls.__name__, set())
    missing = expected - obj.model_fields_set
    ok(not missing, f"{path} ({cls.__name__}) lacks fields the API always sends: {sorted(missing)}")
    wire = obj.model_dump(mode="json", by_alias=True, exclude_unset=True)
    try:
        cls.model_validate(wire)
    except pydantic.ValidationError as e:
        raise AssertionError(f"{path} ({cls.__name__}) does not validate: {e}") from e
    for name in cls.model_fields:
        check_model(getattr(obj, name), f"{path}.{name}")


OUTPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "founded_year": {"type": "integer", "description": "Year the company was founded"},
        "ceo_name": {"type": "string", "description": "Full name of the current CEO"},
        "segment": {"type": "string", "enum": ["enterprise", "consumer", "public sector"]},
        "website": {"type": "string", "format": "uri"},
        "products": {"type": "array", "items": {"type": "string"}},
        "is_public": {"type": "boolean"},
        "headquarters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
            "required": ["city", "country"],
            "additionalProperties": False,
        },
    },
    "required": ["founded_year", "ceo_name", "segment", "website", "products", "is_public", "headquarters"],
    "additionalProperties": False,
}

COMPANIES = [
    {"company_name": "Acme Corp", "company_website": "https://acme.example"},
    {"company_name": "Globex", "company_website": "https://globex.example"},
    {"company_name": "Initech", "company_website": "https://initech.example"},
]


def check_content(content, company):
    ok(isinstance(content, dict), "json output content is an object")
    ok(set(content) == set(OUTPUT_SCHEMA["required"]), f"content has exactly the required keys: {sorted(content)}")
    ok(isinstance(content["founded_year"], int), "founded_year is an integer")
    ok(isinstance(content["ceo_name"], str) and company["company_name"] in content["ceo_name"],
       f"ceo_name is derived from the input: {content['ceo_name']!r}")
    ok(content["segment"] in OUTPUT_SCHEMA["properties"]["segment"]["enum"], "segment is one of the enum values")
    ok(content["website"].startswith("https://"), "website is a URL")
    ok(all(isinstance(p, str) for p in content["products"]), "products are strings")
    ok(isinstance(content["is_public"], bool), "is_public is a boolean")
    ok(set(content["headquarters"]) == {"city", "country"}, "headquarters has its required keys")


def workflow(client):
    group = client.task_group.create(metadata={"suite": "sdk-compat", "attempt": 1, "dry_run": False})
    check_model(group, "create()")
    ok(group.task_group_id.startswith("tgrp_"), "group id has the tgrp_ prefix")
    ok(group.status.num_task_runs == 0 and not group.status.is_active, "a new group is empty and inactive")

    inputs = [
        {"input": company, "processor": "core-fast", "metadata": {"row": i}}
        for i, company in enumerate(COMPANIES)
    ]
    added = client.task_group.add_runs(
        group.task_group_id,
        inputs=inputs,
        default_task_spec={"output_schema": {"type": "json", "json_schema": OUTPUT_SCHEMA}},
    )
    check_model(added, "add_runs()")
    ok(len(added.run_ids) == len(inputs), "one run id per input")
    ok(added.run_cursor is None and added.event_cursor is None, "cursors are null for the first batch")
    ok(added.status.num_task_runs == len(inputs), "add_runs status counts the new runs")

    retrieved = client.task_group.retrieve(group.task_group_id)
    check_model(retrieved, "retrieve()")
    ok(retrieved.task_group_id == group.task_group_id, "retrieve() returns the same group")
    ok(retrieved.metadata == {"suite": "sdk-compat", "attempt": 1, "dry_run": False}, "group metadata round-trips")

    events = list(client.task_group.events(group.task_group_id))
    check_model(events, "events()")
    ok(len(events) >= 2, "the events stream carries events")
    ok(isinstance(events[0], pt.TaskGroupStatusEvent), "the events stream opens with a task_group_status")
    ok(isinstance(events[-1], pt.TaskGroupStatusEvent) and not events[-1].status.is_active,
       "the events stream ends with an inactive task_group_status")
    finished = [e for e in events if isinstance(e, pt.TaskRunEvent)]
    ok(sorted(e.run.run_id for e in finished) == sorted(added.run_ids), "one task_run.state per run")
    ok(all(e.input is None and e.output is None for e in finished), "group events carry no input or output")
    ok(events[-1].status.task_run_status_counts.get("completed") == len(inputs), "every run completed")

    resumed = list(client.task_group.events(group.task_group_id, last_event_id=events[-2].event_id))
    check_model(resumed, "events(last_event_id)")
    ok([e.event_id for e in resumed] == [events[-1].event_id], "resuming delivers only what follows the cursor")
    first_inactive = next(i for i, e in enumerate(events)
                          if isinstance(e, pt.TaskGroupStatusEvent) and not e.status.is_active)
    ok(first_inactive == len(events) - 1, "no inactive status comes before the runs it reports on")
    caught_up = list(client.task_group.events(group.task_group_id, last_event_id=events[-1].event_id))
    check_model(caught_up, "events(last_event_id=newest)")
    ok(len(caught_up) == 1 and isinstance(caught_up[0], pt.TaskGroupStatusEvent)
       and caught_up[0].event_id == events[-1].event_id and not caught_up[0].status.is_active,
       "a caught-up connection gets the current status, carrying its cursor, and ends")

    runs = list(client.task_group.get_runs(group.task_group_id, include_input=True, include_output=True))
    check_model(runs, "get_runs()")
    ok([e.run.run_id for e in runs] == added.run_ids, "get_runs() lists runs in add order")
    for event, company, sent in zip(runs, COMPANIES, inputs):
        ok(event.input is not None and event.input.input == company, "get_runs() echoes the input")
        ok(event.input.metadata == sent["metadata"], "get_runs() echoes the input metadata")
        ok(isinstance(event.output, pt.TaskRunJsonOutput), "completed runs carry a json output")
        check_content(event.output.content, company)
        expected_fields = set(event.output.content) | {
            f"{name}.{i}" for name, value in event.output.content.items()
            if isinstance(value, list) for i in range(len(value))}
        ok({b.field for b in event.output.basis} == expected_fields,
           "one basis entry per output field, and one per element of a list field")
        ok(all(b.citations and b.reasoning and b.confidence for b in event.output.basis), "basis entries are complete")

    bare = list(client.task_group.get_runs(group.task_group_id))
    check_model(bare, "get_runs(no includes)")
    ok(all(e.input is None and e.output is None for e in bare), "get_runs() omits input and output unless asked")

    first = added.run_ids[0]
    run = client.task_group.retrieve_run(first, task_group_id=group.task_group_id)
    check_model(run, "retrieve_run()")
    ok(run.run_id == first and run.task_group_id == group.task_group_id, "retrieve_run() returns the group's run")

    result = client.task_run.result(first, api_timeout=60)
    check_model(result, "task_run.result()")
    ok(result.output.content == runs[0].output.content, "result() and get_runs() agree on the output")

    single = client.task_run.create(
        input="Who is the CEO of Initech (initech.example)?",
        processor="lite",
        task_spec={"output_schema": "Name of the CEO and the year they took the role"},
    )
    check_model(single, "task_run.create()")
    ok(single.status == "queued" and single.is_active, "a new run is queued")
    ok(single.task_group_id is None, "a single run belongs to no group")
    single_result = client.task_run.result(single.run_id, api_timeout=60)
    check_model(single_result, "task_run.result(single)")
    ok(isinstance(single_result.output, pt.TaskRunTextOutput), "a text schema gives a text output")
    ok("Initech" in single_result.output.content, "the text output is derived from the input")
    ok(single_result.run.status == "completed", "the result's run is completed")

    fetched = client.task_run.retrieve(single.run_id)
    check_model(fetched, "task_run.retrieve()")
    ok(fetched.status == "completed", "retrieve() shows the completed run")
    run_input = client.task_run.retrieve_input(single.run_id)
    check_model(run_input, "task_run.retrieve_input()")
    ok(run_input.processor == "lite", "retrieve_input() echoes the processor")

    # The SDK sends no beta header unless asked: a webhook and MCP servers go without one.
    hooked = client.task_run.create(
        input="Who runs Hooli?",
        processor="lite",
        webhook={"url": "http://127.0.0.1:9/hook", "event_types": ["task_run.status"]},
        mcp_servers=[{"name": "crm", "url": "https://mcp.example"}],
    )
    check_model(hooked, "task_run.create(webhook=..., mcp_servers=...)")
    hooked_input = client.task_run.retrieve_input(hooked.run_id)
    ok(hooked_input.webhook is not None and hooked_input.webhook.url == "http://127.0.0.1:9/hook",
       "a webhook is accepted without betas= and echoed")

    with_events = client.task_run.create(input={"company_name": "Globex"}, processor="pro")
    run_events = list(client.task_run.events(with_events.run_id))
    check_model(run_events, "task_run.events()")
    ok(isinstance(run_events[0], pt.TaskRunEvent), "run events open with a task_run.state")
    ok(any(isinstance(e, pt.TaskRunProgressMessageEvent) for e in run_events), "run events include progress messages")
    ok(any(isinstance(e, pt.TaskRunProgressStatsEvent) for e in run_events), "run events include progress stats")
    ok(isinstance(run_events[-1], pt.TaskRunEvent) and run_events[-1].output is not None,
       "run events end with the output")

    try:
        client.task_group.retrieve("tgrp_" + "0" * 32)
        ok(False, "an unknown group gives 404")
    except NotFoundError as e:
        ok(e.status_code == 404, "an unknown group gives 404")
    try:
        client.task_group.add_runs(group.task_group_id, inputs=[{"input": "x", "processor": "lite"}] * 1001)
        ok(False, "more than 1000 inputs give 422")
    except UnprocessableEntityError as e:
        ok("1000" in str(e), "the 422 message names the limit")

    wrong_key = Parallel(api_key="not-the-key", base_url=os.environ["PARALLEL_BASE_URL"], max_retries=0)
    try:
        wrong_key.task_group.retrieve(group.task_group_id)
        ok(False, "a wrong key gives 401")
    except AuthenticationError as e:
        ok(e.status_code == 401, "a wrong key gives 401")


def main():
    client = Parallel(max_retries=0, timeout=120)
    try:
        workflow(client)
    except Exception:
        traceback.print_exc()
        print(f"sdk-compat: {passed} passed, 1 failed")
        return 1
    print(f"sdk-compat: {passed} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
