"""Integration clients: programs (Microsoft Entra ID's provisioning service, BI and HR systems) that call the
SCIM and read APIs with a bearer token; their tokens, scopes and the `require_client` view decorator."""
