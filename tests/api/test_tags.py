"""TagResource, UntagResource and ListTagsForResource on state machines and activities."""

from __future__ import annotations

from support import ACTIVITY_PREFIX, SM_PREFIX, raises


def tags_of(sfn, arn):
    return {t["key"]: t["value"] for t in sfn.list_tags_for_resource(resourceArn=arn)["tags"]}


def test_tags_on_a_state_machine(sfn, machine):
    sm = machine(tags=[{"key": "team", "value": "ops"}])
    assert tags_of(sfn, sm) == {"team": "ops"}
    sfn.tag_resource(resourceArn=sm, tags=[{"key": "env", "value": "dev"}, {"key": "team", "value": "billing"}])
    # Tagging an existing key replaces its value.
    assert tags_of(sfn, sm) == {"team": "billing", "env": "dev"}
    sfn.untag_resource(resourceArn=sm, tagKeys=["team", "not-there"])
    assert tags_of(sfn, sm) == {"env": "dev"}
    listed = sfn.list_tags_for_resource(resourceArn=sm)["tags"]
    assert listed == [{"key": "env", "value": "dev"}]


def test_tags_on_an_activity(sfn, name):
    activity = sfn.create_activity(name=name(), tags=[{"key": "owner", "value": "me"}])["activityArn"]
    assert tags_of(sfn, activity) == {"owner": "me"}
    sfn.tag_resource(resourceArn=activity, tags=[{"key": "tier", "value": "gold"}])
    sfn.untag_resource(resourceArn=activity, tagKeys=["owner"])
    assert tags_of(sfn, activity) == {"tier": "gold"}


def test_tags_go_with_a_deleted_machine(sfn, machine, name):
    n = name()
    sm = machine(name=n, tags=[{"key": "a", "value": "1"}])
    sfn.delete_state_machine(stateMachineArn=sm)
    with raises("ResourceNotFound"):
        sfn.list_tags_for_resource(resourceArn=sm)
    assert tags_of(sfn, machine(name=n)) == {}


def test_tag_errors(sfn, machine):
    with raises("ResourceNotFound"):
        sfn.tag_resource(resourceArn=SM_PREFIX + "no-such-machine", tags=[{"key": "k", "value": "v"}])
    with raises("ResourceNotFound"):
        sfn.list_tags_for_resource(resourceArn=ACTIVITY_PREFIX + "no-such-activity")
    with raises("InvalidArn"):
        sfn.list_tags_for_resource(resourceArn="garbage")
    sm = machine()
    with raises("TooManyTags"):
        sfn.tag_resource(resourceArn=sm, tags=[{"key": f"k{i}", "value": "v"} for i in range(51)])
    assert tags_of(sfn, sm) == {}
    sfn.tag_resource(resourceArn=sm, tags=[{"key": f"k{i}", "value": "v"} for i in range(50)])
    assert len(tags_of(sfn, sm)) == 50
