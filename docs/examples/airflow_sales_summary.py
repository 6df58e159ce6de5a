"""Daily revenue summary with sluice, run by Airflow.

Every day at 02:15 this DAG turns the sales file of the day before
(DATA/in/sales-YYYY-MM-DD.csv.gz, the run's logical date) into
DATA/out/summary-YYYYMMDD.parquet with the job file sales_summary.sluice,
keeping the run's statistics in DATA/stats and any rejected record in
DATA/rejects.  What each exit status of sluice does here:

    0   success
    3   some records were rejected (fewer than 0.1%): success, with a
        warning in the task log; the rejects are in DATA/rejects
    64  the job itself is wrong: check_job fails, summary never runs
    65  bad data, or more than 0.1% of the records rejected: fails; a
        retry would give the same answer, so there is none
    66  the day's input is not there: summary is skipped (skip_on_exit_code)
    74  the output could not be written (disk full): tried again in the
        same task, twice, retry_seconds apart, then fails
    143 Airflow's execution_timeout stopped it: fails, and nothing was
        published under the output name

BashOperator retries every failure alike (its retries count does not look
at the exit status), so the task has no Airflow retries and the command
itself tries again only after a 74.
"""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG(
    dag_id="sluice_sales_summary",
    schedule="15 2 * * *",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"data": "/srv/sales", "jobs": "/opt/sluice/jobs", "retry_seconds": 600},
) as dag:
    check_job = BashOperator(
        task_id="check_job",
        bash_command="sluice --check -f {{ params.jobs }}/sales_summary.sluice",
        retries=0,
    )

    summary = BashOperator(
        task_id="summary",
        bash_command=(
            "cd {{ params.data }} && "
            "for attempt in 1 2 3; do "
            "sluice -f {{ params.jobs }}/sales_summary.sluice --log-format json "
            "--on-error reject=rejects/{{ ds }}.ndjson --max-errors 0.1% "
            "--stats=stats/{{ ds }}.json "
            "in/sales-{{ ds }}.csv.gz -o out/summary-{{ ds_nodash }}.parquet; "
            "rc=$?; "
            "[ $rc = 74 ] && [ $attempt -lt 3 ] || break; "
            "echo \"attempt $attempt: the output could not be written (exit 74); "
            "trying again in {{ params.retry_seconds }} s\" >&2; "
            "sleep {{ params.retry_seconds }}; "
            "done; "
            "if [ $rc = 3 ]; then echo 'some records were rejected: see rejects/{{ ds }}.ndjson' >&2; rc=0; fi; "
            "exit $rc"
        ),
        retries=0,
        skip_on_exit_code=66,
        execution_timeout=timedelta(hours=2),
    )

    check_job >> summary
