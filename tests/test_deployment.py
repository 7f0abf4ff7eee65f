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


def test_compose_has_the_services_sharing_one_image() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"migrate", "web", "worker", "beat", "db", "redis"}
    for name in ("migrate", "web", "worker", "beat"):
        assert services[name]["build"] == "."
        assert services[name]["image"] == "robo-advisor:latest"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }
    assert services["migrate"]["command"] == "python manage.py migrate --noinput"
    assert services["migrate"]["restart"] == "no"
    assert "gunicorn advisor.wsgi:application" in services["web"]["command"]
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
    assert env["DATABASE_URL"].endswith("@db:5432/advisor")
    assert env["REDIS_URL"] == "redis://redis:6379/0"


def test_compose_runs_the_app_as_a_role_that_owns_nothing() -> None:
    """web, worker and beat connect as the runtime role; only `migrate` connects as the owner;
    the superuser is used by the database's init script and nobody else."""
    services = _compose()["services"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://advisor_app:"), name
        assert env["ADVISOR_DB_APP_ROLE"] == "advisor_app", name
    migrate = services["migrate"]["environment"]
    assert migrate["DATABASE_URL"].startswith("postgres://advisor_owner:")
    assert migrate["ADVISOR_DB_APP_ROLE"] == "advisor_app"  # whom the migrate grants
    db = services["db"]
    assert db["environment"]["POSTGRES_USER"] == "postgres"
    assert (
        "./deploy/postgres/10-roles.sh:/docker-entrypoint-initdb.d/10-roles.sh:ro" in db["volumes"]
    )
    assert "./advisor/security/sql:/advisor-sql:ro" in db["volumes"]
    script = (ROOT / "deploy" / "postgres" / "10-roles.sh").read_text()
    assert "/advisor-sql/create_roles.sql" in script
    sql = (ROOT / "advisor" / "security" / "sql" / "create_roles.sql").read_text()
    assert sql.count("NOSUPERUSER NOCREATEDB NOCREATEROLE") == 2
    assert "REVOKE CREATE ON SCHEMA public FROM PUBLIC" in sql


def test_the_role_script_creates_the_roles_idempotently(tmp_path: Path) -> None:
    """The SQL the init script runs, twice against the test server: two ordinary roles, the
    database owned by the owner role."""
    import uuid

    import psycopg

    from tests.db_roles import server_url

    suffix = uuid.uuid4().hex[:8]
    owner, app, database = f"t_owner_{suffix}", f"t_app_{suffix}", f"t_db_{suffix}"
    url = server_url()
    try:
        for _ in range(2):
            result = subprocess.run(
                ["psql", url, "-v", "ON_ERROR_STOP=1", "-v", f"owner={owner}", "-v", "owner_password=x",
                 "-v", f"app={app}", "-v", "app_password=y", "-v", f"database={database}",
                 "-f", str(ROOT / "advisor" / "security" / "sql" / "create_roles.sql")],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
        with psycopg.connect(url, autocommit=True) as conn:
            roles = conn.execute(
                "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
                " WHERE rolname IN (%s, %s) ORDER BY rolname", (app, owner)
            ).fetchall()  # fmt: skip
            assert roles == [(app, False, False, False), (owner, False, False, False)]
            db_owner = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            assert db_owner == (owner,)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}"')
            conn.execute(f'DROP ROLE IF EXISTS "{app}"')
            conn.execute(f'DROP ROLE IF EXISTS "{owner}"')


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
        "ADVISOR_DB_APP_ROLE": "advisor_app",
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


def test_check_deploy_fails_without_a_secret_key(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "ADVISOR_", "REDIS_", "CELERY_"))
    }
    env |= {"DJANGO_DEBUG": "0", "ADVISOR_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_the_image_copies_the_gunicorn_settings_that_drop_the_banner() -> None:
    assert "gunicorn.conf.py" in (ROOT / "Dockerfile").read_text()
    assert "default_headers" in (ROOT / "gunicorn.conf.py").read_text()
