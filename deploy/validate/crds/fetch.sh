#!/usr/bin/env bash
# Regenerates the CRDs the manifests are validated against (run by hand when the operator
# versions change; the outputs are committed, CI does not run this). Everything comes from
# Maven Central through Maven:
#   Strimzi 1.2.0: io.strimzi:crd-generator runs over the model classes of io.strimzi:api
#     (the same generator Strimzi's build runs) -> kafka, kafkanodepool, kafkatopic (v1).
#     The generator is built for Java 21+: set JAVA to such a java.
#   Flink Kubernetes Operator 1.10.0: org.apache.flink:flink-kubernetes-operator-api ships its
#     CRDs (fabric8 generator) in META-INF/fabric8 -> flinkdeployments (apiextensions v1 CRD
#     serving flink.apache.org/v1beta1).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
STRIMZI_VERSION="${STRIMZI_VERSION:-1.2.0}"
FLINK_OPERATOR_VERSION="${FLINK_OPERATOR_VERSION:-1.10.0}"
JAVA="${JAVA:-java}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>crds</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId><version>${STRIMZI_VERSION}</version></dependency>
    <dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId><version>${STRIMZI_VERSION}</version></dependency>
  </dependencies>
</project>
POM
mvn -q -f "$work/pom.xml" dependency:build-classpath -Dmdep.outputFile="$work/cp.txt"
"$JAVA" -cp "$(cat "$work/cp.txt")" io.strimzi.crdgenerator.CrdGenerator --yaml \
  --crd-api-version v1 --api-versions v1 --storage-version v1 \
  io.strimzi.api.kafka.model.kafka.Kafka="$here/strimzi-kafka.yaml" \
  io.strimzi.api.kafka.model.nodepool.KafkaNodePool="$here/strimzi-kafkanodepool.yaml" \
  io.strimzi.api.kafka.model.topic.KafkaTopic="$here/strimzi-kafkatopic.yaml"
mvn -q dependency:copy -Dartifact="org.apache.flink:flink-kubernetes-operator-api:${FLINK_OPERATOR_VERSION}" \
  -DoutputDirectory="$work"
unzip -p "$work/flink-kubernetes-operator-api-${FLINK_OPERATOR_VERSION}.jar" \
  META-INF/fabric8/flinkdeployments.flink.apache.org-v1.yml > "$here/flink-flinkdeployments.yaml"
# The one local change (see README.md): the newest operator API on Maven Central (1.10.0)
# predates Flink 2.x; later operator releases accept v2_0, v2_1, v2_2 for spec.flinkVersion.
python3 - "$here/flink-flinkdeployments.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
old = "                - v1_20\n                type: string"
assert s.count(old) == 1, "flinkVersion enum not found where expected"
s = s.replace(old, "                - v1_20\n                - v2_0\n                - v2_1\n                - v2_2\n                type: string")
open(p, "w").write(s)
PY
echo "CRDs written to $here"
