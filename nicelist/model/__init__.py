"""A model of the deployed path (producers, SQS, Lambda's mapping, the writer, DynamoDB) that answers
what a peak takes: ``simulate(Scenario(...))``. Each AWS rule lives in the module named for its
service, with the documentation it comes from; ``nicelist plan`` and ``loadtests.model_check`` use it."""

from nicelist.model.arrivals import Profile, december_23
from nicelist.model.dynamodb import AutoScaling, TableSpec
from nicelist.model.mapping import Mapping
from nicelist.model.sim import Result, Scenario, simulate
from nicelist.model.writer import WriterSpec

__all__ = [
    "AutoScaling",
    "Mapping",
    "Profile",
    "Result",
    "Scenario",
    "TableSpec",
    "WriterSpec",
    "december_23",
    "simulate",
]
