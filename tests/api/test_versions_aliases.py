"""Versions (PublishStateMachineVersion, ListStateMachineVersions, DeleteStateMachineVersion)
and aliases (Create/Describe/Update/Delete/ListStateMachineAliases), and executions started
through a version or alias ARN."""

from __future__ import annotations

import datetime
import json

import pytest

from support import SM_PREFIX, definition, history, raises, wait_done

V1 = definition({"P": {"Type": "Pass", "Result": "v1", "End": True}})
V2 = definition({"P": {"Type": "Pass", "Result": "v2", "End": True}})


def test_publish_list_describe_and_delete_versions(sfn, machine):
    sm = machine(V1)
    p1 = sfn.publish_state_machine_version(stateMachineArn=sm, description="first")
    assert p1["stateMachineVersionArn"] == sm + ":1"
    assert isinstance(p1["creationDate"], datetime.datetime)
    # Nothing changed: publishing again returns the same version.
    assert sfn.publish_state_machine_version(stateMachineArn=sm)["stateMachineVersionArn"] == sm + ":1"

    sfn.update_state_machine(stateMachineArn=sm, definition=V2)
    p2 = sfn.publish_state_machine_version(stateMachineArn=sm)
    assert p2["stateMachineVersionArn"] == sm + ":2"

    versions = sfn.list_state_machine_versions(stateMachineArn=sm)["stateMachineVersions"]
    # Newest first.
    assert [v["stateMachineVersionArn"] for v in versions] == [sm + ":2", sm + ":1"]

    d1 = sfn.describe_state_machine(stateMachineArn=sm + ":1")
    assert d1["stateMachineArn"] == sm + ":1"
    assert json.loads(d1["definition"]) == json.loads(V1)
    assert d1["description"] == "first"
    assert json.loads(sfn.describe_state_machine(stateMachineArn=sm + ":2")["definition"]) == json.loads(V2)

    sfn.delete_state_machine_version(stateMachineVersionArn=sm + ":1")
    assert [
        v["stateMachineVersionArn"] for v in sfn.list_state_machine_versions(stateMachineArn=sm)["stateMachineVersions"]
    ] == [sm + ":2"]
    with raises("StateMachineDoesNotExist"):
        sfn.describe_state_machine(stateMachineArn=sm + ":1")
    # Version numbers are never reused.
    sfn.update_state_machine(stateMachineArn=sm, definition=V1)
    assert sfn.publish_state_machine_version(stateMachineArn=sm)["stateMachineVersionArn"] == sm + ":3"


def test_create_and_update_can_publish(sfn, machine):
    sm_arn = machine(V1, publish=True, versionDescription="born published")
    assert (
        sfn.list_state_machine_versions(stateMachineArn=sm_arn)["stateMachineVersions"][0]["stateMachineVersionArn"]
        == sm_arn + ":1"
    )
    updated = sfn.update_state_machine(stateMachineArn=sm_arn, definition=V2, publish=True)
    assert updated["stateMachineVersionArn"] == sm_arn + ":2"


def test_create_with_publish_returns_the_version_arn(sfn, name):
    n = name()
    r = sfn.create_state_machine(name=n, definition=V1, roleArn="arn:aws:iam::123456789012:role/r", publish=True)
    assert r["stateMachineVersionArn"] == SM_PREFIX + n + ":1"


def test_publish_with_a_stale_revision_is_a_conflict(sfn, machine):
    sm = machine(V1)
    old_revision = sfn.describe_state_machine(stateMachineArn=sm)["revisionId"]
    sfn.update_state_machine(stateMachineArn=sm, definition=V2)
    with raises("ConflictException", status=409):
        sfn.publish_state_machine_version(stateMachineArn=sm, revisionId=old_revision)
    current = sfn.describe_state_machine(stateMachineArn=sm)["revisionId"]
    assert sfn.publish_state_machine_version(stateMachineArn=sm, revisionId=current)["stateMachineVersionArn"] == (
        sm + ":1"
    )


def test_version_errors(sfn):
    with raises("StateMachineDoesNotExist"):
        sfn.publish_state_machine_version(stateMachineArn=SM_PREFIX + "no-such-machine")
    with raises("StateMachineDoesNotExist"):
        sfn.list_state_machine_versions(stateMachineArn=SM_PREFIX + "no-such-machine")
    with raises("InvalidArn"):
        sfn.delete_state_machine_version(stateMachineVersionArn="garbage")


def test_execution_of_a_version_runs_that_version(sfn, machine):
    sm = machine(V1)
    v1 = sfn.publish_state_machine_version(stateMachineArn=sm)["stateMachineVersionArn"]
    sfn.update_state_machine(stateMachineArn=sm, definition=V2)
    arn = sfn.start_execution(stateMachineArn=v1)["executionArn"]
    # The execution belongs to the machine, not to a separate "version machine".
    assert arn.startswith(sm.replace(":stateMachine:", ":execution:") + ":")
    d = wait_done(sfn, arn)
    assert json.loads(d["output"]) == "v1"
    assert d["stateMachineArn"] == sm
    assert d["stateMachineVersionArn"] == v1
    assert "stateMachineAliasArn" not in d
    for_exec = sfn.describe_state_machine_for_execution(executionArn=arn)
    assert json.loads(for_exec["definition"]) == json.loads(V1)
    # Unqualified, the machine runs its latest definition.
    latest = wait_done(sfn, sfn.start_execution(stateMachineArn=sm)["executionArn"])
    assert json.loads(latest["output"]) == "v2"
    assert "stateMachineVersionArn" not in latest
    # ListExecutions on the version ARN lists only that version's executions.
    listed = sfn.list_executions(stateMachineArn=v1)["executions"]
    assert [e["executionArn"] for e in listed] == [arn]
    assert listed[0]["stateMachineVersionArn"] == v1


def test_alias_lifecycle_and_executions_through_it(sfn, machine, name):
    sm = machine(V1)
    v1 = sfn.publish_state_machine_version(stateMachineArn=sm)["stateMachineVersionArn"]
    sfn.update_state_machine(stateMachineArn=sm, definition=V2)
    v2 = sfn.publish_state_machine_version(stateMachineArn=sm)["stateMachineVersionArn"]

    created = sfn.create_state_machine_alias(
        name="prod", description="live", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}]
    )
    alias = created["stateMachineAliasArn"]
    assert alias == sm + ":prod"
    assert isinstance(created["creationDate"], datetime.datetime)
    # Idempotent on the same parameters.
    again = sfn.create_state_machine_alias(
        name="prod", description="live", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}]
    )
    assert again["stateMachineAliasArn"] == alias and again["creationDate"] == created["creationDate"]

    d = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert d["stateMachineAliasArn"] == alias
    assert d["name"] == "prod"
    assert d["description"] == "live"
    assert d["routingConfiguration"] == [{"stateMachineVersionArn": v1, "weight": 100}]
    assert listed_aliases(sfn, sm) == [alias]

    e1 = sfn.start_execution(stateMachineArn=alias)["executionArn"]
    d1 = wait_done(sfn, e1)
    assert json.loads(d1["output"]) == "v1"
    assert d1["stateMachineAliasArn"] == alias
    assert d1["stateMachineVersionArn"] == v1

    updated = sfn.update_state_machine_alias(
        stateMachineAliasArn=alias, routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 100}]
    )
    assert updated["updateDate"] >= d["updateDate"]
    e2 = sfn.start_execution(stateMachineArn=alias)["executionArn"]
    d2 = wait_done(sfn, e2)
    assert (json.loads(d2["output"]), d2["stateMachineVersionArn"]) == ("v2", v2)
    assert {e["executionArn"] for e in sfn.list_executions(stateMachineArn=alias)["executions"]} == {e1, e2}

    # A version an alias routes to cannot be deleted.
    with raises("ConflictException", status=409):
        sfn.delete_state_machine_version(stateMachineVersionArn=v2)
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    with raises("ResourceNotFound"):
        sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert listed_aliases(sfn, sm) == []
    # The alias is gone, the versions stay; now v2 can go.
    assert len(sfn.list_state_machine_versions(stateMachineArn=sm)["stateMachineVersions"]) == 2
    sfn.delete_state_machine_version(stateMachineVersionArn=v2)


def listed_aliases(sfn, sm):
    return [
        a["stateMachineAliasArn"] for a in sfn.list_state_machine_aliases(stateMachineArn=sm)["stateMachineAliases"]
    ]


def test_weighted_alias_routes_to_both_versions(sfn, machine):
    sm = machine(V1)
    v1 = sfn.publish_state_machine_version(stateMachineArn=sm)["stateMachineVersionArn"]
    sfn.update_state_machine(stateMachineArn=sm, definition=V2)
    v2 = sfn.publish_state_machine_version(stateMachineArn=sm)["stateMachineVersionArn"]
    alias = sfn.create_state_machine_alias(
        name="canary",
        routingConfiguration=[
            {"stateMachineVersionArn": v1, "weight": 50},
            {"stateMachineVersionArn": v2, "weight": 50},
        ],
    )["stateMachineAliasArn"]
    chosen = set()
    for _ in range(30):  # all 30 on one side has a chance of 2 in 2^30
        arn = sfn.start_execution(stateMachineArn=alias)["executionArn"]
        chosen.add(sfn.describe_execution(executionArn=arn)["stateMachineVersionArn"])
    assert chosen == {v1, v2}


def test_alias_errors(sfn, machine):
    sm = machine(V1)
    v1 = sfn.publish_state_machine_version(stateMachineArn=sm)["stateMachineVersionArn"]
    with raises("ValidationException"):
        # Weights must add up to 100.
        sfn.create_state_machine_alias(name="half", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 50}])
    with raises("ResourceNotFound"):
        sfn.create_state_machine_alias(
            name="ghost", routingConfiguration=[{"stateMachineVersionArn": sm + ":99", "weight": 100}]
        )
    with raises("ResourceNotFound"):
        sfn.describe_state_machine_alias(stateMachineAliasArn=sm + ":nope")
    with raises("InvalidArn"):
        sfn.describe_state_machine_alias(stateMachineAliasArn=sm)
    with raises("StateMachineDoesNotExist"):
        sfn.start_execution(stateMachineArn=sm + ":42")
    sfn.create_state_machine_alias(name="live", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])
    with raises("ConflictException"):
        sfn.create_state_machine_alias(
            name="live", description="different", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}]
        )


def test_start_execution_on_a_missing_alias(sfn, machine):
    sm = machine(V1)
    with raises("StateMachineDoesNotExist"):
        sfn.start_execution(stateMachineArn=sm + ":nope")


def test_list_executions_of_a_version_fills_its_pages(sfn, machine):
    sm = machine(V1)
    v1 = sfn.publish_state_machine_version(stateMachineArn=sm)["stateMachineVersionArn"]
    by_version = sfn.start_execution(stateMachineArn=v1)["executionArn"]
    for _ in range(2):
        sfn.start_execution(stateMachineArn=sm)
    page = sfn.list_executions(stateMachineArn=v1, maxResults=1)
    assert [e["executionArn"] for e in page["executions"]] == [by_version]


def test_deleting_a_machine_deletes_its_versions_and_aliases(sfn, machine, name):
    n = name()
    sm = machine(V1, name=n, publish=True)
    alias = sfn.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": sm + ":1", "weight": 100}]
    )["stateMachineAliasArn"]
    sfn.delete_state_machine(stateMachineArn=sm)
    with raises("StateMachineDoesNotExist"):
        sfn.describe_state_machine(stateMachineArn=sm + ":1")
    with raises("ResourceNotFound"):
        sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    # A machine created again under the name starts from version 1 with no aliases.
    machine(V2, name=n)
    assert sfn.list_state_machine_versions(stateMachineArn=sm)["stateMachineVersions"] == []
    assert listed_aliases(sfn, sm) == []
    assert sfn.publish_state_machine_version(stateMachineArn=sm)["stateMachineVersionArn"] == sm + ":1"


def test_execution_started_event_names_the_alias_and_version(sfn, machine):
    sm = machine(V1, publish=True)
    alias = sfn.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": sm + ":1", "weight": 100}]
    )["stateMachineAliasArn"]
    arn = sfn.start_execution(stateMachineArn=alias)["executionArn"]
    wait_done(sfn, arn)
    details = history(sfn, arn)[0]["executionStartedEventDetails"]
    assert details.get("stateMachineAliasArn") == alias
    assert details.get("stateMachineVersionArn") == sm + ":1"


def test_version_and_alias_lists_page(sfn, machine):
    sm = machine(V1)
    for d in [V2, V1, V2]:
        sfn.publish_state_machine_version(stateMachineArn=sm)
        sfn.update_state_machine(stateMachineArn=sm, definition=d)
    for i in range(1, 4):
        sfn.create_state_machine_alias(
            name=f"a{i}", routingConfiguration=[{"stateMachineVersionArn": f"{sm}:{i}", "weight": 100}]
        )
    page = sfn.list_state_machine_versions(stateMachineArn=sm, maxResults=1)
    assert [v["stateMachineVersionArn"] for v in page["stateMachineVersions"]] == [sm + ":3"]
    rest = sfn.list_state_machine_versions(stateMachineArn=sm, maxResults=5, nextToken=page["nextToken"])
    assert [v["stateMachineVersionArn"] for v in rest["stateMachineVersions"]] == [sm + ":2", sm + ":1"]
    aliases = sfn.list_state_machine_aliases(stateMachineArn=sm, maxResults=2)
    assert len(aliases["stateMachineAliases"]) == 2 and aliases["nextToken"]
