# modelpress on Debian 12: built with the project's own scripts, installed as the .deb CPack makes,
# so the runtime image holds the binary, its tokenizer module and the Debian libraries they link.
#   docker build -t modelpress .   then   docker run --rm -v "$PWD:/data" modelpress eval -m /data/model -f /data/text.txt
FROM debian:12 AS build
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends sudo ca-certificates dpkg-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN bash scripts/setup-debian.sh && bash scripts/build.sh && cd build && cpack -G DEB

FROM debian:12
COPY --from=build /src/build/modelpress_*.deb /tmp/
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends /tmp/modelpress_*.deb \
    && rm -rf /var/lib/apt/lists/* /tmp/modelpress_*.deb
ENTRYPOINT ["modelpress"]
