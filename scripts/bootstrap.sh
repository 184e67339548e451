#!/usr/bin/env bash
# Installs what a fresh machine lacks: Debian packages (only the missing ones),
# npm dependencies (npm ci when the lockfile changed) and the Kafka jars.
# Idempotent and quiet on a machine that already has everything.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  cmake g++ make pkg-config clang-format universal-ctags libcli11-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc libgtest-dev
  libcgal-dev libgmp-dev libmpfr-dev libtbb-dev
  redis-server ripser kcat time prometheus
  python3-grpcio python3-protobuf python3-gudhi
  default-jre-headless maven
  chromium fonts-dejavu-core
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# java/mvn may come from elsewhere than Debian; only the commands matter
command -v java >/dev/null || { echo "bootstrap: java not found" >&2; exit 1; }
# the Flink job is compiled here: a JDK, not only a JRE (its Maven dependencies are fetched by mvn)
if ! command -v javac >/dev/null; then
  echo "bootstrap: installing a JDK (default-jdk-headless) for the Flink job"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends default-jdk-headless >/dev/null
fi

stamp=node_modules/.tda-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "bootstrap: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# The maths references the tests run beside the engine: PyPI gudhi 3.13 (Debian's
# python3-gudhi is older) with POT (gudhi.wasserstein) and scikit-learn
# (gudhi.representations), in a virtual environment under the cache directory
# (TDA_REF_PYTHON overrides it; test/helpers/gudhi.ts and engine-cpp/tests find it there).
ref_env="${TDA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tda-mesh}/pyref"
ref_pins=(gudhi==3.13.0 numpy==2.4.6 POT==0.9.7.post1 scikit-learn==1.9.1)
if [ -z "${TDA_REF_PYTHON:-}" ] && ! cmp -s <(printf '%s\n' "${ref_pins[@]}") "$ref_env/.pins" 2>/dev/null; then
  echo "bootstrap: Python reference environment ($ref_env: ${ref_pins[*]})"
  if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  rm -rf "$ref_env"
  python3 -m venv "$ref_env"
  "$ref_env/bin/pip" install -q --disable-pip-version-check "${ref_pins[@]}"
  printf '%s\n' "${ref_pins[@]}" > "$ref_env/.pins"
fi

bash deploy/local/install.sh
# Jaeger, the local trace collector and store, built from the Go module proxy (the first
# build takes minutes; cached outside the work tree). Go itself comes with the machine
# (the REST proxy needs it too); without it the mesh runs untraced.
if command -v go >/dev/null 2>&1 || [[ -x /usr/local/go/bin/go ]]; then
  bash deploy/jaeger/build.sh | sed -n "/buil/s/^\[jaeger\] /bootstrap: jaeger /p"
else
  echo "bootstrap: Go not found: Jaeger (traces) and the REST proxy cannot be built" >&2
fi
