# Shared paths and settings for kmirror's scripts. Source it; it defines no behaviour of its own.
KMIRROR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KMIRROR_ROOT/tools/kafka/pom.xml")
KMIRROR_CACHE=${KMIRROR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kmirror}
KAFKA_LIBS=${KMIRROR_KAFKA_LIBS:-$KMIRROR_CACHE/kafka-$KAFKA_VERSION/libs}
KMIRROR_RUN=${KMIRROR_RUN:-$KMIRROR_ROOT/run}
KAFKA_RUN=$KMIRROR_RUN/kafka
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
JAVA_PERF_OPTS="-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true"

die() { echo "error: $*" >&2; exit 1; }
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# Writes a log4j2 config that sends everything at LEVEL to FILE (or to stderr when FILE is "-").
write_log4j2() { # path level file
  local path=$1 level=$2 file=$3
  if [ "$file" = "-" ]; then
    cat > "$path" <<EOL
status = warn
appender.e.type = Console
appender.e.name = E
appender.e.target = SYSTEM_ERR
appender.e.layout.type = PatternLayout
appender.e.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = $level
rootLogger.appenderRef.e.ref = E
EOL
  else
    cat > "$path" <<EOL
status = warn
appender.f.type = File
appender.f.name = F
appender.f.fileName = $file
appender.f.layout.type = PatternLayout
appender.f.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = $level
rootLogger.appenderRef.f.ref = F
EOL
  fi
}

# Makes sure the Kafka jars are in the cache, fetching them from Maven Central once.
ensure_kafka_jars() {
  if [ -f "$KAFKA_LIBS/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Kafka $KAFKA_VERSION; run .ci/install or apt-get install maven"
  command -v "$JAVA" >/dev/null || die "Java 17+ is needed to run Kafka; run .ci/install or apt-get install openjdk-17-jdk-headless"
  say "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS (once)"
  local tmp="$KAFKA_LIBS.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  mvn -q -B -f "$KMIRROR_ROOT/tools/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$tmp" -DincludeScope=runtime \
    || { rm -rf "$tmp"; die "could not fetch the Kafka jars with Maven (is Maven Central reachable?)"; }
  rm -rf "$KAFKA_LIBS"; mv "$tmp" "$KAFKA_LIBS"; touch "$KAFKA_LIBS/.complete"
}
