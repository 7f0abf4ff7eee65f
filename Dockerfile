# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ADVISOR_VAR_DIR=/app/var

WORKDIR /app
RUN useradd --create-home --uid 1000 advisor

COPY pyproject.toml constraints.txt README.md ./
COPY advisor ./advisor
COPY accounts ./accounts
COPY portfolios ./portfolios
COPY rebalancing ./rebalancing
RUN pip install -c constraints.txt .

COPY manage.py gunicorn.conf.py ./
COPY templates ./templates
COPY static ./static
RUN DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var && chown -R advisor /app/var

USER advisor
EXPOSE 8000
CMD ["gunicorn", "advisor.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
