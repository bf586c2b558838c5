# OpenSOC service and demo, for a Hugging Face Docker Space or any container host.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000 \
    HOST=0.0.0.0

# Spaces run the container as uid 1000; a named user with that id keeps files owned consistently.
RUN useradd --create-home --uid 1000 opensoc
WORKDIR /app
COPY --chown=opensoc:opensoc . /app

# The service, the demo and E1 with its synthetic tier; no training extras. Every dependency is pinned by the
# constraints file, so a rebuild installs what was tested rather than whatever is newest that day.
RUN pip install --no-cache-dir -c /app/constraints/docker.txt /app

USER opensoc
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"

CMD ["python", "server.py"]
