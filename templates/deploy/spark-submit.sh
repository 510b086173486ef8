#!/bin/sh
# Submits the job to Spark: the driver and the executors run the job's code and its
# dependencies from the PEX, and pyspark from the cluster. Written by `pybuild deploy spark`.
set -eu
cd "$(dirname "$0")"
# The PEX runs the driver script and pyspark's worker as an interpreter would.
export PEX_INTERPRETER=1
exec spark-submit \
  --master {{master}} \
  --files {{pex}} \
  --conf spark.pyspark.python=./{{pex}} \
  --conf spark.executorEnv.PEX_INTERPRETER=1 \
  --conf spark.yarn.appMasterEnv.PEX_INTERPRETER=1 \
  {{conf}} \
  {{main}} {{args}} "$@"
