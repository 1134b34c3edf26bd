"""The read API for the municipality's BI and HR systems (`/api/v1`, docs/api.md): runs, participants,
completions and programme figures as JSON, described by an OpenAPI 3.1 document (`openapi.py`)."""
