# wiredesk in a container: state (store, drop folder) lives in the /data volume.
#   docker build -t wiredesk .
#   docker run -p 8080:8080 -v wiredesk-data:/data wiredesk
# The wheel is built in a stage with a C compiler (ingest/_speedups.c, the compiled
# tokenizer); the image that runs has none.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY db db
COPY ingest ingest
COPY feeds feeds
COPY wiredesk wiredesk
RUN pip wheel --no-cache-dir --no-deps -w /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -r /wheels && useradd --system --home /data wiredesk
COPY config.yaml /etc/wiredesk/config.yaml
# in a container the server must listen beyond loopback; the store and drops go to /data
RUN sed -i -e 's|^database: .*|database: /data/wiredesk.db|' \
           -e 's|^  path: drops |  path: /data/drops |' \
           -e 's|^  host: 127.0.0.1|  host: 0.0.0.0|' /etc/wiredesk/config.yaml
VOLUME /data
USER wiredesk
ENV WIREDESK_CONFIG=/etc/wiredesk/config.yaml
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"
CMD ["wiredesk", "run"]
