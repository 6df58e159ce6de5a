"""Sales summary over many files, one sluice per shard, then one merge.

Airflow's dynamic task mapping runs the shard task once per element of the
list given to expand(); the merge task runs when all of them succeeded.
Each shard exits 0, or with sluice's documented exit status (64 usage,
65 bad data, 66 missing input, ...), which fails that task instance.
tests/cli/scripts/airflow_dag_commands.sh runs these commands through bash.
"""
from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator

SHARDS = 4
WORKDIR = "/srv/sales"

SHARD_COMMAND = """
cd {dir} && mkdir -p partial && sluice --partial --shard {i}/{n} \
  'filter status == "approved" | map adjusted = price * quantity * 1.2 | group user_id: total_spent = sum(adjusted)' \
  data/sales-*.csv -o partial/{i}.ndjson
"""

MERGE_COMMAND = """
cd {dir} && sluice merge partial/*.ndjson --then 'sort -total_spent' -o summary.csv
"""

with DAG(
    dag_id="sales_summary_sharded",
    start_date=datetime(2024, 1, 1),
    schedule="@daily",
    catchup=False,
) as dag:
    shards = BashOperator.partial(task_id="shard").expand(
        bash_command=[SHARD_COMMAND.format(dir=WORKDIR, i=i, n=SHARDS) for i in range(SHARDS)]
    )
    merge = BashOperator(task_id="merge", bash_command=MERGE_COMMAND.format(dir=WORKDIR))
    shards >> merge
