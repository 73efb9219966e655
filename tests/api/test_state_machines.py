"""State machines: Create, Describe, Update, Delete, List, ValidateStateMachineDefinition, and
the errors AWS gives for each, by name."""

from __future__ import annotations

import datetime
import json

import pytest

from support import PASS_DEFINITION, ROLE_ARN, SM_PREFIX, callback_state, definition, raises

OTHER_DEFINITION = definition({"Q": {"Type": "Pass", "Result": {"v": 2}, "End": True}})
BROKEN_DEFINITION = definition({"Start": {"Type": "Pass", "Next": "Chek"}})


def test_create_then_describe_returns_what_was_stored(sfn, name):
    n = name()
    created = sfn.create_state_machine(name=n, definition=PASS_DEFINITION, roleArn=ROLE_ARN)
    assert created["stateMachineArn"] == SM_PREFIX + n
    assert isinstance(created["creationDate"], datetime.datetime)
    assert "stateMachineVersionArn" not in created

    d = sfn.describe_state_machine(stateMachineArn=created["stateMachineArn"])
    assert d["stateMachineArn"] == SM_PREFIX + n
    assert d["name"] == n
    assert d["status"] == "ACTIVE"
    assert d["type"] == "STANDARD"
    assert d["roleArn"] == ROLE_ARN
    assert json.loads(d["definition"]) == json.loads(PASS_DEFINITION)
    assert d["creationDate"] == created["creationDate"]
    assert d["loggingConfiguration"]["level"] == "OFF"
    assert d["tracingConfiguration"] == {"enabled": False}
    assert d["revisionId"]


def test_create_express_keeps_its_type(sfn, machine):
    arn = machine(type="EXPRESS")
    assert sfn.describe_state_machine(stateMachineArn=arn)["type"] == "EXPRESS"


def test_create_is_idempotent_for_the_same_definition(sfn, name):
    n = name()
    first = sfn.create_state_machine(name=n, definition=PASS_DEFINITION, roleArn=ROLE_ARN)
    # AWS ignores a different roleArn (and tags) when it compares.
    again = sfn.create_state_machine(name=n, definition=PASS_DEFINITION, roleArn=ROLE_ARN + "-other")
    assert again["stateMachineArn"] == first["stateMachineArn"]
    assert again["creationDate"] == first["creationDate"]


def test_create_with_the_name_of_a_different_machine_fails(sfn, name):
    n = name()
    sfn.create_state_machine(name=n, definition=PASS_DEFINITION, roleArn=ROLE_ARN)
    with raises("StateMachineAlreadyExists", f"State Machine Already Exists: '{SM_PREFIX}{n}'"):
        sfn.create_state_machine(name=n, definition=OTHER_DEFINITION, roleArn=ROLE_ARN)


def test_invalid_definition_names_the_problem_and_its_location(sfn, name):
    with raises("InvalidDefinition") as info:
        sfn.create_state_machine(name=name(), definition=BROKEN_DEFINITION, roleArn=ROLE_ARN)
    message = info.value.response["Error"]["Message"]
    assert message.startswith("Invalid State Machine Definition: '")
    assert "MISSING_TRANSITION_TARGET" in message
    assert "/States/Start/Next" in message


def test_definition_that_is_not_json_is_invalid(sfn, name):
    with raises("InvalidDefinition", "Invalid State Machine Definition"):
        sfn.create_state_machine(name=name(), definition="{not json", roleArn=ROLE_ARN)


def test_invalid_names_are_refused(sfn):
    for bad in ["has space", "a/b", "x:y", "q?", "x" * 81]:
        with raises("InvalidName", f"Invalid Name: '{bad}'"):
            sfn.create_state_machine(name=bad, definition=PASS_DEFINITION, roleArn=ROLE_ARN)


def test_unknown_type_is_a_validation_error(sfn, name):
    # botocore checks enums only on the server side, so the request reaches Baton.
    with raises("ValidationException", "type"):
        sfn.create_state_machine(name=name(), definition=PASS_DEFINITION, roleArn=ROLE_ARN, type="TURBO")


def test_version_description_needs_publish(sfn, name):
    with raises("ValidationException"):
        sfn.create_state_machine(name=name(), definition=PASS_DEFINITION, roleArn=ROLE_ARN, versionDescription="v")


def test_describe_unknown_machine(sfn):
    arn = SM_PREFIX + "no-such-machine"
    with raises("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'"):
        sfn.describe_state_machine(stateMachineArn=arn)


def test_malformed_arns_are_invalid_arn(sfn):
    with raises("InvalidArn", "Invalid Arn: 'Invalid ARN prefix: not-an-arn'"):
        sfn.describe_state_machine(stateMachineArn="not-an-arn")
    with raises("InvalidArn", "Resource type not valid in this context: activity"):
        sfn.describe_state_machine(stateMachineArn="arn:aws:states:us-east-1:123456789012:activity:a")


def test_update_changes_definition_and_revision(sfn, machine):
    arn = machine()
    before = sfn.describe_state_machine(stateMachineArn=arn)
    updated = sfn.update_state_machine(stateMachineArn=arn, definition=OTHER_DEFINITION)
    assert isinstance(updated["updateDate"], datetime.datetime)
    assert updated["revisionId"] != before["revisionId"]
    after = sfn.describe_state_machine(stateMachineArn=arn)
    assert json.loads(after["definition"]) == json.loads(OTHER_DEFINITION)
    assert after["revisionId"] == updated["revisionId"]
    # A new role is a new revision too.
    again = sfn.update_state_machine(stateMachineArn=arn, roleArn=ROLE_ARN + "-2")
    assert again["revisionId"] != updated["revisionId"]
    assert sfn.describe_state_machine(stateMachineArn=arn)["roleArn"] == ROLE_ARN + "-2"


def test_update_errors(sfn, machine):
    arn = machine()
    with raises("MissingRequiredParameter"):
        sfn.update_state_machine(stateMachineArn=arn)
    with raises("InvalidDefinition", "MISSING_TRANSITION_TARGET"):
        sfn.update_state_machine(stateMachineArn=arn, definition=BROKEN_DEFINITION)
    # The failed update left the machine as it was.
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == json.loads(PASS_DEFINITION)
    with raises("StateMachineDoesNotExist"):
        sfn.update_state_machine(stateMachineArn=SM_PREFIX + "no-such-machine", definition=PASS_DEFINITION)


def test_delete_removes_the_machine(sfn, machine):
    arn = machine()
    assert sfn.delete_state_machine(stateMachineArn=arn)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with raises("StateMachineDoesNotExist"):
        sfn.describe_state_machine(stateMachineArn=arn)
    assert arn not in {m["stateMachineArn"] for m in _all_machines(sfn)}
    # Deleting is idempotent on AWS: a second delete succeeds.
    sfn.delete_state_machine(stateMachineArn=arn)


def test_delete_with_a_malformed_arn(sfn):
    with raises("InvalidArn"):
        sfn.delete_state_machine(stateMachineArn="nope")


def _all_machines(sfn, **kwargs):
    out, token = [], None
    while True:
        page = sfn.list_state_machines(**kwargs, **({"nextToken": token} if token else {}))
        out.extend(page["stateMachines"])
        token = page.get("nextToken")
        if not token:
            return out


def test_list_pages_through_every_machine(sfn, machine):
    arns = {machine() for _ in range(3)}
    pages = []
    token = None
    while True:
        page = sfn.list_state_machines(maxResults=1, **({"nextToken": token} if token else {}))
        assert len(page["stateMachines"]) <= 1
        pages.append(page)
        token = page.get("nextToken")
        if not token:
            break
    listed = [m for p in pages for m in p["stateMachines"]]
    assert arns <= {m["stateMachineArn"] for m in listed}
    # No machine twice across pages.
    assert len({m["stateMachineArn"] for m in listed}) == len(listed)
    mine = [m for m in listed if m["stateMachineArn"] in arns]
    for m in mine:
        assert set(m) == {"stateMachineArn", "name", "type", "creationDate"}
        assert m["type"] == "STANDARD"
    # The boto3 paginator sees the same.
    paged = [
        m
        for p in sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 2})
        for m in p["stateMachines"]
    ]
    assert arns <= {m["stateMachineArn"] for m in paged}


def test_list_limits_and_tokens(sfn):
    with raises(
        "ValidationException",
        "Value '1001' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000",
    ):
        sfn.list_state_machines(maxResults=1001)
    with raises("InvalidToken"):
        sfn.list_state_machines(nextToken="garbage-token")


def test_validate_accepts_a_good_definition(sfn):
    r = sfn.validate_state_machine_definition(definition=PASS_DEFINITION)
    assert r["result"] == "OK"
    assert r["diagnostics"] == []


def test_validate_warns_about_waits_without_timeout(sfn):
    activity = "arn:aws:states:us-east-1:123456789012:activity:review"
    states = {
        "Ask": callback_state(Next="Fan"),
        "Fan": {
            "Type": "Parallel",
            "Branches": [{"StartAt": "Review", "States": {"Review": {"Type": "Task", "Resource": activity, "End": True}}}],
            "Next": "Bounded",
        },
        "Bounded": callback_state(TimeoutSeconds=3600),
    }
    r = sfn.validate_state_machine_definition(definition=definition(states, start="Ask"))
    assert r["result"] == "OK"
    assert {d["location"] for d in r["diagnostics"]} == {"/States/Ask", "/States/Fan/Branches/0/States/Review"}
    for d in r["diagnostics"]:
        assert d["severity"] == "WARNING" and d["code"] == "NO_TASK_TIMEOUT" and "TimeoutSeconds" in d["message"]


def test_validate_reports_code_message_and_location(sfn):
    r = sfn.validate_state_machine_definition(definition=BROKEN_DEFINITION)
    assert r["result"] == "FAIL"
    assert r["truncated"] is False
    [diag] = r["diagnostics"]
    assert diag["severity"] == "ERROR"
    assert diag["code"] == "MISSING_TRANSITION_TARGET"
    assert diag["location"] == "/States/Start/Next"
    assert "Chek" in diag["message"]


def test_validate_reports_every_problem(sfn):
    two_problems = definition({"A": {"Type": "Pass", "Next": "Nowhere"}, "B": {"Type": "Wait", "End": True}})
    r = sfn.validate_state_machine_definition(definition=two_problems)
    assert r["result"] == "FAIL"
    locations = {d["location"] for d in r["diagnostics"]}
    assert "/States/A/Next" in locations
    assert any(loc.startswith("/States/B") for loc in locations), locations


def test_express_machines_refuse_callbacks(sfn, name):
    with raises("InvalidDefinition", "Express state machine does not support '.waitForTaskToken'"):
        sfn.create_state_machine(
            name=name(), definition=definition({"Ask": callback_state()}), roleArn=ROLE_ARN, type="EXPRESS"
        )


def test_map_label_follows_the_name_rules(sfn, name):
    for label in ["has space", "label_\u008f"]:
        bad = definition(
            {
                "M": {
                    "Type": "Map",
                    "Label": label,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                        "StartAt": "I",
                        "States": {"I": {"Type": "Pass", "End": True}},
                    },
                    "End": True,
                }
            }
        )
        with raises("InvalidDefinition"):
            sfn.create_state_machine(name=name(), definition=bad, roleArn=ROLE_ARN)
