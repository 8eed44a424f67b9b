"""The deployment files say what the Makefile says, and production settings pass Django's checks."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _make_var(name: str) -> str:
    text = (ROOT / "Makefile").read_text()
    value = re.search(rf"^{name} := (.+)$", text, re.M).group(1).strip()
    return value.replace("$(HOST)", "0.0.0.0").replace("$(PORT)", "8000")


def test_docker_compose_parses_and_has_every_service():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "postgres", "redis"} <= set(services)
    for name in ("postgres", "redis", "web"):
        assert "healthcheck" in services[name], name
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith(
            "redis://"
        )


@pytest.mark.parametrize(
    ("service", "make_var"),
    [("web", "GUNICORN_CMD"), ("worker", "WORKER_CMD"), ("beat", "BEAT_CMD")],
)
def test_compose_runs_the_same_commands_as_the_makefile(service, make_var):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"][service]["command"] == _make_var(make_var)


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```", 2)[1]
    assert "make run" in first_block and "make test" in first_block


def test_ci_script_calls_make_test_with_postgres_required():
    script = (ROOT / ".ci" / "run").read_text()
    assert "make test" in script and "REQUIRE_POSTGRES=1" in script
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def _manage(
    *args: str, settings: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update({"DJANGO_SETTINGS_MODULE": settings, **(extra_env or {})})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        settings="config.settings.production",
        extra_env={
            "DJANGO_SECRET_KEY": "x" * 20 + "-production-like-secret-value-0123456789abcdef",
            "DJANGO_ALLOWED_HOSTS": "vouchers.example.gov.cn",
            "DATABASE_URL": os.environ.get("DATABASE_URL", "sqlite:///:memory:"),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_refuse_to_start_without_secret_key():
    result = _manage(
        "check",
        settings="config.settings.production",
        extra_env={"DJANGO_ALLOWED_HOSTS": "x.example"},
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_models_and_migrations_agree():
    result = _manage("makemigrations", "--check", "--dry-run", settings="config.settings.test")
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_machine_paths_in_tracked_files():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    pattern = re.compile("/" + "work/|/" + "root/|/tmp/" + "fresh")
    offenders = []
    for name in tracked:
        path = ROOT / name
        if path.suffix in {".png", ".mo", ".pdf", ".ttf", ".otf", ".ico"} or not path.is_file():
            continue
        if pattern.search(path.read_text(errors="ignore")):
            offenders.append(name)
    assert offenders == []
