#!/usr/bin/env bash
# zkCli.sh inside the ferrokeeper image. ferrokeeper ships no client of its own; this runs the
# Apache ZooKeeper Java command-line client (Debian's libzookeeper-java on the image's
# OpenJDK 17 JRE) with the same arguments and environment as ZooKeeper's zkCli.sh:
#   zkCli.sh [-server host:port[,host:port...]] [-timeout ms] [-r] [cmd args...]
# CLIENT_JVMFLAGS and JVMFLAGS are passed to the JVM, ZK_CLIENT_HEAP (MB, default 256) sets -Xmx,
# ZKCLI_LOG_LEVEL (default warn) the client's log level (log lines go to stderr).
# Images built with WITH_JAVA_CLIENT=false have no JVM: the script then says so and exits 127.
set -u
jar=/usr/share/java/zookeeper.jar
if ! command -v java >/dev/null 2>&1 || [ ! -f "$jar" ]; then
    echo "zkCli.sh: this image was built without the Java client (WITH_JAVA_CLIENT=false);" \
        "use zkCli.sh from another image or host, or 'echo ruok | nc localhost 2181' for probes" >&2
    exit 127
fi
cp="$jar"
# Client log lines go to stderr at WARN (slf4j-simple), as a console-only zkCli.sh would show them.
if [ -f /usr/share/java/slf4j-simple.jar ]; then
    cp="$cp:/usr/share/java/slf4j-simple.jar"
fi
log_dir="${ZOO_LOG_DIR:-/tmp}"
{ [ -d "$log_dir" ] && [ -w "$log_dir" ]; } || log_dir=/tmp
# shellcheck disable=SC2086 # flag strings are split on whitespace, as zkCli.sh does
exec java "-Xmx${ZK_CLIENT_HEAP:-256}m" \
    "-Dzookeeper.log.dir=$log_dir" "-Dzookeeper.log.file=zookeeper-cli.log" \
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=${ZKCLI_LOG_LEVEL:-warn}" \
    -cp "$cp" ${CLIENT_JVMFLAGS:-} ${JVMFLAGS:-} \
    org.apache.zookeeper.ZooKeeperMain "$@"
