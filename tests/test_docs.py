"""The README documents every setting and starts with the two commands that matter."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import AliasChoices

from salon.config import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def env_var(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return "SALON_" + field.upper()


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented(readme: str, field: str) -> None:
    name = env_var(field)
    assert re.search(rf"`{re.escape(name)}`", readme), f"{name} is not documented in README.md"


def test_admin_variables_keep_their_spec_names() -> None:
    assert env_var("user_permissions_chat_share") == "USER_PERMISSIONS_CHAT_SHARE"
    assert env_var("enable_community_sharing") == "ENABLE_COMMUNITY_SHARING"
    assert env_var("port") == "SALON_PORT"


def test_test_database_variable_is_documented(readme: str) -> None:
    assert "`SALON_TEST_DATABASE_URL`" in readme


def test_readme_opens_with_run_and_test(readme: str) -> None:
    top = "\n".join(readme.splitlines()[:40])
    assert "make run" in top
    assert "make test" in top


def test_cli_env_names_agree_with_the_docs_test() -> None:
    from salon.cli_common import env_var_name

    assert all(env_var_name(f) == env_var(f) for f in Settings.model_fields)
