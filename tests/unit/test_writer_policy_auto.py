"""The writer's role may describe its own table (write rate auto) and nothing else it did not have."""

from __future__ import annotations

from nicelist.policies import PolicyTarget, render_policies


def test_the_writer_may_describe_only_its_own_table() -> None:
    policy = render_policies(PolicyTarget("prod", "111122223333", "eu-west-1", "aws"))["writer"]["policy"]
    describing = [s for s in policy["Statement"] if "dynamodb:DescribeTable" in s["Action"]]
    assert len(describing) == 1
    assert describing[0]["Action"] == ["dynamodb:DescribeTable"]
    assert describing[0]["Resource"] == "arn:aws:dynamodb:eu-west-1:111122223333:table/nicelist-prod"
