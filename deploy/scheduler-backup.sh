#!/bin/sh
# scheduler-backup.sh — runs the printdesk-backup Cloud Run job
# (deploy/cloudrun-backup-job.yaml) every day at 02:30 UTC through Cloud
# Scheduler, as deploy/scheduler-lifecycle.sh does for the lifecycle job
# (same invoker service account). Needs PROJECT and REGION. Run once; run
# again after changing the schedule (it updates the trigger).
set -eu
: "${PROJECT:?set PROJECT}" "${REGION:?set REGION}"
INVOKER=${INVOKER:-printdesk-scheduler}
SA="$INVOKER@$PROJECT.iam.gserviceaccount.com"
JOB=printdesk-backup
URI="https://$REGION-run.googleapis.com/apis/run.googleapis.com/v1/namespaces/$PROJECT/jobs/$JOB:run"
SCHEDULE=${SCHEDULE:-"30 2 * * *"}

gcloud iam service-accounts describe "$SA" --project "$PROJECT" \
    >/dev/null 2>&1 ||
    gcloud iam service-accounts create "$INVOKER" --project "$PROJECT" \
        --display-name "Cloud Scheduler: printdesk jobs"
gcloud run jobs add-iam-policy-binding "$JOB" --project "$PROJECT" \
    --region "$REGION" --member "serviceAccount:$SA" \
    --role roles/run.invoker

if gcloud scheduler jobs describe "$JOB-daily" --project "$PROJECT" \
    --location "$REGION" >/dev/null 2>&1; then
    verb=update
else
    verb=create
fi
gcloud scheduler jobs "$verb" http "$JOB-daily" --project "$PROJECT" \
    --location "$REGION" --schedule "$SCHEDULE" --time-zone "Etc/UTC" \
    --uri "$URI" --http-method POST \
    --oauth-service-account-email "$SA" \
    --attempt-deadline 30s
