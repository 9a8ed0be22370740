#!/bin/sh
# scheduler-lifecycle.sh — runs the printdesk-lifecycle Cloud Run job
# (deploy/cloudrun-lifecycle-job.yaml) every day at 03:30 UTC through
# Cloud Scheduler. Needs PROJECT and REGION; INVOKER names the service
# account Cloud Scheduler calls Cloud Run as (made here if missing).
# Run once; run again after changing the schedule (it updates the job).
set -eu
: "${PROJECT:?set PROJECT}" "${REGION:?set REGION}"
INVOKER=${INVOKER:-printdesk-scheduler}
SA="$INVOKER@$PROJECT.iam.gserviceaccount.com"
JOB=printdesk-lifecycle
URI="https://$REGION-run.googleapis.com/apis/run.googleapis.com/v1/namespaces/$PROJECT/jobs/$JOB:run"
SCHEDULE=${SCHEDULE:-"30 3 * * *"}

gcloud iam service-accounts describe "$SA" --project "$PROJECT" \
    >/dev/null 2>&1 ||
    gcloud iam service-accounts create "$INVOKER" --project "$PROJECT" \
        --display-name "Cloud Scheduler: printdesk lifecycle"
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
