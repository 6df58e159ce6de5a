#!/bin/bash
# Submit the shards as a job array and the merge as a job that waits for
# all of them; prints the merge job's id.
set -euo pipefail
mkdir -p logs
shards=$(sbatch --parsable shards.sbatch)
sbatch --parsable --dependency=afterok:"$shards" merge.sbatch
