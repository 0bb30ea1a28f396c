"""``make package`` as CI runs it, offline of AWS: ``nicelist.package.build`` runs ``zappa package`` for
``dev_writer`` and ``dev_api``, and each zip holds its Lambda and nothing of the dev venv.

Size budget: both zips measured 15.5 MB unzipped (5.0 MB zipped) with zappa 0.63 and pydantic 2.14.
Lambda refuses more than 250 MB unzipped (layers included); our own budget is 25 MB, so that botocore
(about 25 MB) or zappa's build-time dependencies (troposphere alone 13 MB) coming back fails here.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import botocore
import pytest
import s3transfer

from nicelist import package
from nicelist.package import Artefact, PackageError, build, requirements

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]
SETTINGS = json.loads((ROOT / "zappa_settings.json").read_text())
BUDGET_UNZIPPED = 25_000_000
# Never in a Lambda zip: what the runtime provides, the dev venv's tools, the project's non-Lambda parts.
ABSENT = {
    "boto3", "botocore", "s3transfer", "moto", "locust", "hypothesis", "pytest", "_pytest", "troposphere",
    "tests", "loadtests", "nicelist", "docs", "deploy", "runs", "dist", ".venv", ".venv-package",
}  # fmt: skip
# What the Lambda runtime puts on sys.path after the task's own directory.
RUNTIME_PROVIDES = (boto3, botocore, s3transfer)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Artefact]:
    return build("dev", out_dir=tmp_path_factory.mktemp("dist"))


def names(artefact: Artefact) -> list[str]:
    with zipfile.ZipFile(artefact.path) as archive:
        return archive.namelist()


def zappa_settings(artefact: Artefact) -> dict[str, object]:
    """The literal assignments of the ``zappa_settings.py`` zappa wrote into the zip."""
    with zipfile.ZipFile(artefact.path) as archive:
        tree = ast.parse(archive.read("zappa_settings.py"))
    return {
        target.id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def run_in_task(artefact: Artefact, tmp_path: Path, code: str) -> str:
    """``code`` on a bare interpreter (``-S``: no site-packages) whose path is the unzipped artefact, then
    a runtime folder with boto3, botocore and s3transfer only, as Lambda orders /var/task and /var/runtime."""
    task, runtime = tmp_path / "task", tmp_path / "runtime"
    with zipfile.ZipFile(artefact.path) as archive:
        archive.extractall(task)
    runtime.mkdir()
    for module in RUNTIME_PROVIDES:
        (runtime / module.__name__).symlink_to(Path(module.__file__).parent)
    prelude = f"import sys; sys.path[:0] = [{str(task)!r}, {str(runtime)!r}]\n"
    environment = {"PATH": os.environ["PATH"], "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
    result = subprocess.run(
        [sys.executable, "-S", "-E", "-c", prelude + code],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_stage_excludes_the_same_and_stays_offline() -> None:
    # only dev is packaged here; prod ships what dev ships
    excludes = {json.dumps(config["exclude"]) for config in SETTINGS.values()}
    assert excludes == {json.dumps(SETTINGS["dev_api"]["exclude"])}
    assert all(config["use_precompiled_packages"] is False for config in SETTINGS.values())


def test_the_build_venv_gets_the_lambdas_requirements_only(tmp_path: Path) -> None:
    wanted = requirements(ROOT / "pyproject.toml")
    assert {"pydantic>=2.9", "flask>=3.0", "zappa>=0.59"} <= set(wanted)
    dev_tools = {"moto", "locust", "hypothesis", "pytest", "ruff", "mypy", "schemathesis", "gunicorn", "matplotlib"}
    assert [name for name in wanted if name.split(">")[0].split("[")[0] in dev_tools] == []
    selfish = tmp_path / "pyproject.toml"
    selfish.write_text(
        '[project]\nname = "nicelist"\ndependencies = []\n'
        '[project.optional-dependencies]\napi = ["nicelist[local]"]\ndeploy = []\n'
    )
    with pytest.raises(PackageError, match="must not name the project itself"):
        requirements(selfish)


def test_the_build_refuses_another_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(package.platform, "machine", lambda: "arm64")
    with pytest.raises(PackageError, match="Linux x86_64"):
        package.check_platform()


@pytest.mark.parametrize(("stage", "handler"), [("dev_writer", "writer/handler.py"), ("dev_api", "producers/api.py")])
def test_the_zip_holds_its_lambda(built: dict[str, Artefact], stage: str, handler: str) -> None:
    members = set(names(built[stage]))
    assert {handler, "contract/__init__.py", "contract/updates.py", "zappa_settings.py"} <= members
    assert "pydantic/__init__.py" in members
    assert "pydantic_core/_pydantic_core.cpython-311-x86_64-linux-gnu.so" in members


@pytest.mark.parametrize("stage", ["dev_writer", "dev_api"])
def test_the_zip_leaves_out_the_runtime_and_the_dev_venv(built: dict[str, Artefact], stage: str) -> None:
    members = names(built[stage])
    top = {member.split("/")[0] for member in members}
    distributions = {name.split("-")[0].lower() for name in top if name.endswith(".dist-info")}
    assert top & ABSENT == set()
    assert distributions & ABSENT == set()
    assert [member for member in members if "__pycache__" in member or ".egg-info" in member] == []


@pytest.mark.parametrize("stage", ["dev_writer", "dev_api"])
def test_the_zip_stays_within_budget(built: dict[str, Artefact], stage: str) -> None:
    print(built[stage].describe())
    assert built[stage].unzipped < BUDGET_UNZIPPED


def test_zappa_settings_name_each_entry_point(built: dict[str, Artefact]) -> None:
    writer, api = zappa_settings(built["dev_writer"]), zappa_settings(built["dev_api"])
    assert (api["APP_MODULE"], api["APP_FUNCTION"]) == ("producers.api", "app")
    # the writer's entry point is the function's handler setting, not zappa's: no app in its settings
    assert "APP_MODULE" not in writer
    for stage, settings in (("dev_writer", writer), ("dev_api", api)):
        assert settings["API_STAGE"] == stage
        assert (settings["LOG_LEVEL"], settings["DEBUG"]) == ("INFO", False)
        # the stage's variables go to the function's configuration; the build machine's region is not baked in
        assert settings["ENVIRONMENT_VARIABLES"] == {}
        assert settings["AWS_EVENT_MAPPING"] == {}


def test_the_writer_imports_from_its_zip_alone(built: dict[str, Artefact], tmp_path: Path) -> None:
    code = (
        "import importlib.util, writer.handler, pydantic_core, boto3\n"
        "assert callable(writer.handler.lambda_handler)\n"
        "assert importlib.util.find_spec('moto') is None and importlib.util.find_spec('nicelist') is None\n"
        "print(writer.handler.__file__, pydantic_core.__file__, boto3.__file__, sep='\\n')\n"
    )
    files = run_in_task(built["dev_writer"], tmp_path, code).split()
    assert [Path(file).relative_to(tmp_path).parts[0] for file in files] == ["task", "task", "runtime"]


def test_the_api_answers_through_zappas_handler_from_its_zip_alone(built: dict[str, Artefact], tmp_path: Path) -> None:
    event = {
        "httpMethod": "GET",
        "path": "/v1/openapi.json",
        "headers": {"Host": "example.org"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"stage": "dev_api", "requestId": "r", "identity": {"sourceIp": "192.0.2.1"}},
        "body": None,
        "isBase64Encoded": False,
    }
    code = (
        "import json, handler\n"
        "class Context:\n"
        "    function_name, aws_request_id = 'nicelist-dev-api', 'r'\n"
        "    def get_remaining_time_in_millis(self): return 10000\n"
        f"answer = handler.lambda_handler({event!r}, Context())\n"
        "print(json.dumps({'status': answer['statusCode'], 'body': json.loads(answer['body'])}))\n"
    )
    answer = json.loads(run_in_task(built["dev_api"], tmp_path, code).splitlines()[-1])
    assert answer["status"] == 200
    assert "/v1/updates" in answer["body"]["paths"]
