"""One module per pipeline stage: read the previous stage's files, call the library, write
this stage's files atomically. Prefect flows (``beyonder/flows/``) call these; they import no Prefect."""
