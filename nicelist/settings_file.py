"""Reading zappa_settings.json, and writing a tuned concurrency back into it without re-dumping it.

``zappa update`` re-applies ``lambda_concurrency`` from the file, so a live tune that is not written
back is undone by the next deploy (docs/tuning.md, "Drift"). The write edits the text in place: two
targeted substitutions inside the writer stage's block, so the file keeps its formatting, key order
and any comments; the result is re-parsed and must differ from the original in exactly those two
values, or nothing is written."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nicelist.findings import Finding
from nicelist.tuning.model import StageTuning

DEFAULT_SETTINGS = Path("zappa_settings.json")
_RESERVED = re.compile(r'("lambda_concurrency"\s*:\s*)(-?\d+)')
_SHARED_BY = re.compile(r'("NICELIST_CONCURRENCY"\s*:\s*")([^"\\]*)(")')
_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"|//[^\n]*|/\*.*?\*/', re.DOTALL)


class SettingsFileError(ValueError):
    """The settings file is missing, unreadable, or cannot be edited safely (nothing was written)."""


def blank_comments(text: str) -> str:
    """``text`` with ``//`` and ``/* */`` comments outside strings replaced by spaces (newlines kept), so
    positions in the result are positions in the original."""

    def blank(match: re.Match[str]) -> str:
        found = match.group(0)
        return found if found.startswith('"') else re.sub(r"[^\n]", " ", found)

    return _COMMENT.sub(blank, text)


def parse(text: str) -> dict[str, Any]:
    try:
        document = json.loads(blank_comments(text))
    except json.JSONDecodeError as error:
        raise SettingsFileError(f"not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise SettingsFileError("the settings must be a JSON object of zappa stages")
    return document


def load(path: Path) -> dict[str, Any]:
    try:
        return parse(path.read_text())
    except OSError as error:
        raise SettingsFileError(f"cannot read {path}: {error.strerror}") from error


def writer_stage(stage: str) -> str:
    return f"{stage}_writer"


def _block(text: str, key: str) -> tuple[int, int]:
    """Start and end of the object value of top-level ``key`` (comments already blanked)."""
    starts = [m.end() - 1 for m in re.finditer(rf'"{re.escape(key)}"\s*:\s*\{{', text)]
    if len(starts) != 1:
        raise SettingsFileError(f"expected one {key!r} block, found {len(starts)}")
    depth, position = 0, starts[0]
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|[{}]', text[starts[0] :]):
        if token.group(0) == "{":
            depth += 1
        elif token.group(0) == "}":
            depth -= 1
            if depth == 0:
                position = starts[0] + token.end()
                return starts[0], position
    raise SettingsFileError(f"the {key!r} block is not closed")


def _substitute(text: str, blanked: str, span: tuple[int, int], pattern: re.Pattern[str], value: str) -> str:
    matches = list(pattern.finditer(blanked, *span))
    if len(matches) != 1:
        name = pattern.pattern.split('"')[1]
        raise SettingsFileError(f"expected one {name} in the stage's block, found {len(matches)}: edit it by hand")
    found = matches[0]
    return text[: found.start(2)] + value + text[found.end(2) :]


@dataclass(frozen=True, slots=True)
class Persisted:
    """What ``--persist`` changed: (before, after) of each value."""

    path: str
    stage: str
    lambda_concurrency: tuple[Any, int]
    nicelist_concurrency: tuple[Any, str]


def edited(text: str, stage: str, reserved: int, shared_by: int) -> str:
    """The new text, with the writer stage's lambda_concurrency and NICELIST_CONCURRENCY replaced."""
    key = writer_stage(stage)
    old = parse(text)
    if key not in old:
        raise SettingsFileError(f"no {key} stage in the settings")
    blanked = blank_comments(text)
    first = _substitute(text, blanked, _block(blanked, key), _RESERVED, str(reserved))
    blanked = blank_comments(first)
    new_text = _substitute(first, blanked, _block(blanked, key), _SHARED_BY, str(shared_by))
    expected = copy.deepcopy(old)
    expected[key]["lambda_concurrency"] = reserved
    expected[key].setdefault("aws_environment_variables", {})["NICELIST_CONCURRENCY"] = str(shared_by)
    if parse(new_text) != expected:
        raise SettingsFileError("the edit would change more than the two values: nothing written, edit by hand")
    return new_text


def persist_concurrency(path: Path, stage: str, reserved: int, shared_by: int) -> Persisted:
    """Write the tuned concurrency into ``path`` in place (atomically: a temporary file, then rename)."""
    try:
        text = path.read_text()
    except OSError as error:
        raise SettingsFileError(f"cannot read {path}: {error.strerror}") from error
    new_text = edited(text, stage, reserved, shared_by)
    if new_text != text:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "w") as out:
            out.write(new_text)
        shutil.copymode(path, temporary)
        os.replace(temporary, path)
    before = parse(text)[writer_stage(stage)]
    return Persisted(
        str(path),
        writer_stage(stage),
        (before.get("lambda_concurrency"), reserved),
        (before.get("aws_environment_variables", {}).get("NICELIST_CONCURRENCY"), str(shared_by)),
    )


def drift_findings(document: dict[str, Any], stage: str, tuning: StageTuning) -> list[Finding]:
    """Live values a ``zappa update <stage>_writer`` would undo: reserved concurrency against
    ``lambda_concurrency``, and the writers' concurrency (the mapping's maximum, or reserved concurrency
    in poller mode) against ``NICELIST_CONCURRENCY``."""
    key = writer_stage(stage)
    settings = document.get(key)
    if not isinstance(settings, dict):
        return []
    shared_by = tuning.maximum if tuning.pollers is None else tuning.reserved
    filed = settings.get("aws_environment_variables", {}).get("NICELIST_CONCURRENCY")
    back = "--reserved-concurrency" if tuning.pollers is not None else "--concurrency"
    pairs = [
        ("reserved concurrency", tuning.reserved, settings.get("lambda_concurrency"), "lambda_concurrency", back),
        ("writer concurrency", shared_by, filed, "NICELIST_CONCURRENCY", back),
    ]
    findings = []
    for what, live, in_file, setting, flag in pairs:
        if live is None or str(live) == str(in_file):
            continue
        findings.append(
            Finding(
                f"drift-{setting.lower().replace('_', '-')}",
                f"zappa_settings.json {key}",
                f"live {what} is {live} but {setting} is {in_file}: the next `zappa update {key}` undoes the tune",
                f"nicelist tune --stage {stage} --persist (keeps {live}), or re-apply the file's with "
                f"nicelist tune --stage {stage} {flag} {in_file}",
            )
        )
    return findings
