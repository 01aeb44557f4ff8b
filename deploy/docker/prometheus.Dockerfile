# A Prometheus image for the compose file's `monitoring` profile, built FROM scratch (no registry) out
# of Debian's `prometheus` package on the build machine:
#
#   apt-get install -y --no-install-recommends prometheus     # once; provides /usr/bin/prometheus
#   deploy/docker/build-image.sh --prometheus                  # → strom-prometheus:dev
#
# Context prepared by the script:
#   rootfs/bin/prometheus                  Debian's binary (Prometheus 2.x)
#   rootfs/lib*/…                          the libraries `ldd` names, the dynamic loader included
#   rootfs/usr/share/prometheus/web/       the classic web UI's static files Debian's build serves
#   rootfs/etc/prometheus/prometheus.yml   a self-scrape config; compose mounts deploy/prometheus/ over it
#   rootfs/etc/{passwd,group,nsswitch.conf}, rootfs/tmp
#   data/                                  becomes /prometheus (TSDB), owned by nobody (65534)
FROM scratch

COPY rootfs/ /
COPY --chown=65534:65534 data/ /prometheus/

USER 65534:65534
WORKDIR /prometheus
EXPOSE 9090

ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", \
     "--storage.tsdb.path=/prometheus", \
     "--web.listen-address=0.0.0.0:9090"]
