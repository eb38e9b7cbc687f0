"""The table of attributes (`service.attributes.ATTRIBUTES`) and the surfaces it feeds.

The inline words, `todo edit`'s form, the service's checks, completion (tested in
tests/test_completion.py), `todo list` and `todo show` read the table; the flags, the
input and output models and the HTTP schemas name each attribute themselves. These tests
fail when an entry of the table lacks one of those, or a surface stops reading the table,
so a new attribute cannot be half added.
"""

from __future__ import annotations

from typing import Any

import pytest
import typer

from tests.test_api_openapi import document
from todo_cli.cli import _editor, _words, app
from todo_cli.models import TASK_FIELDS, Task, TaskCreate, TaskPublic, TaskReplace, TaskUpdate
from todo_cli.service import validation
from todo_cli.service.attributes import ATTRIBUTES, BY_KEY, Attribute

NAMES = [attribute.name for attribute in ATTRIBUTES]


def option_names(name: str) -> set[str]:
    command: Any = getattr(typer.main.get_command(app), "commands", {})[name]
    return {opt for param in command.params for opt in getattr(param, "opts", [])}


def body_properties(schema: str) -> set[str]:
    doc: dict[str, Any] = document()
    return set(doc["components"]["schemas"][schema]["properties"])


def test_the_table_is_spec_s_words() -> None:
    assert {key: attribute.name for key, attribute in BY_KEY.items()} == {
        "due": "due",
        "wait": "wait",
        "pri": "priority",
        "priority": "priority",
        "project": "project",
        "proj": "project",
    }
    assert [attribute.word() for attribute in ATTRIBUTES] == [
        "due:fri",
        "wait:mon",
        "pri:H",
        "project:house",
    ]


@pytest.mark.parametrize("attribute", ATTRIBUTES, ids=NAMES)
def test_every_attribute_is_a_column_a_field_and_a_json_key(attribute: Attribute) -> None:
    assert attribute.name in Task.__table__.c  # type: ignore[attr-defined]
    if attribute.day_field:
        assert attribute.day_field in Task.__table__.c  # type: ignore[attr-defined]
    for model in (TaskCreate, TaskReplace, TaskUpdate, TaskPublic):
        assert attribute.name in model.model_fields, model.__name__
    assert attribute.name in {field.name for field in TASK_FIELDS}


@pytest.mark.parametrize("attribute", ATTRIBUTES, ids=NAMES)
def test_every_attribute_has_its_flag_and_http_fields(attribute: Attribute) -> None:
    for name in ("add", "edit"):
        assert f"--{attribute.name}" in option_names(name), name
    for schema in ("TaskCreateBody", "TaskReplaceBody", "TaskUpdateBody", "TaskPublic"):
        assert attribute.name in body_properties(schema), schema


@pytest.mark.parametrize("attribute", ATTRIBUTES, ids=NAMES)
def test_the_surfaces_that_read_the_table_have_every_attribute(attribute: Attribute) -> None:
    assert set(attribute.keys) <= set(_words.KEYS)
    assert attribute.name in _editor.FIELDS
    assert attribute.name in validation._CLEANERS


def test_text_attributes_go_to_their_column_and_back() -> None:
    for attribute in ATTRIBUTES:
        if attribute.is_date:
            continue
        assert attribute.from_column(attribute.to_column(None)) is None, attribute.name
        for value in (*attribute.choices, attribute.example):
            checked = attribute.check(value)
            assert attribute.from_column(attribute.to_column(checked)) == checked
