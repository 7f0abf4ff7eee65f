"""The deployment files agree with the settings the app reads (no Docker engine runs in CI)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _settings_variables() -> set[str]:
    source = (ROOT / "advisor" / "settings.py").read_text()
    return set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', source))


def test_compose_has_the_five_services_sharing_one_image() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"web", "worker", "beat", "db", "redis"}
    for name in ("web", "worker", "beat"):
        assert services[name]["build"] == "."
        assert services[name]["image"] == "robo-advisor:latest"
        assert services[name]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
    assert "gunicorn advisor.wsgi:application" in services["web"]["command"]
    assert "migrate" in services["web"]["command"]
    assert services["worker"]["command"].startswith("celery -A advisor worker")
    assert "django_celery_beat.schedulers:DatabaseScheduler" in services["beat"]["command"]
    for name in ("web", "worker", "db", "redis"):
        assert "healthcheck" in services[name], name
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert "pgdata" in compose["volumes"]


def test_compose_environment_is_what_the_settings_read() -> None:
    compose = _compose()
    read = _settings_variables()
    env = compose["services"]["web"]["environment"]
    assert set(env) <= read, set(env) - read
    assert env["DATABASE_URL"].startswith("postgres://advisor:")
    assert env["DATABASE_URL"].endswith("@db:5432/advisor")
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    db_env = compose["services"]["db"]["environment"]
    assert db_env["POSTGRES_DB"] == "advisor" and db_env["POSTGRES_USER"] == "advisor"


def test_env_example_and_readme_document_every_variable() -> None:
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    readme = (ROOT / "README.md").read_text()
    missing_example = _settings_variables() - documented
    missing_readme = {name for name in _settings_variables() if f"`{name}`" not in readme}
    assert not missing_example, f".env.example lacks {sorted(missing_example)}"
    assert not missing_readme, f"README lacks {sorted(missing_readme)}"


def test_dockerfile_installs_the_locked_dependencies_and_serves_with_gunicorn() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -c constraints.txt ." in dockerfile
    assert "collectstatic" in dockerfile
    assert "gunicorn" in dockerfile
    for package in ("advisor", "accounts", "portfolios", "rebalancing", "templates", "static"):
        assert f"COPY {package} ./{package}" in dockerfile


def test_check_deploy_is_clean_with_the_documented_production_variables(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "ADVISOR_", "REDIS_", "CELERY_"))
    }
    env |= {
        "DJANGO_SECRET_KEY": "x7#kP2!vQ9zR4mW8nL1bT6yH3cF5gJ0dS-uE_aZoXiVqN&pKrMs",
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "advisor.example.com",
        "DJANGO_SECURE": "1",
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
        "ADVISOR_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
