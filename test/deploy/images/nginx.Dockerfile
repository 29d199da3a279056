# nginx from Debian's package, with the official image's unprivileged user
# (nginx, 101), /etc/nginx/mime.types, SIGQUIT as the stop signal and a wget
# (the alpine image's busybox has one) for the health check.
ARG BASE=localhost/debian:bookworm
FROM ${BASE}
RUN groupadd -r -g 101 nginx && useradd -r -g nginx -u 101 -d /nonexistent -s /usr/sbin/nologin nginx \
 && printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx wget \
 && rm -rf /var/lib/apt/lists/*
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
