"""SCIM 2.0 provisioning (RFC 7643/7644) as Microsoft Entra ID's provisioning service uses it: staff created,
changed, deactivated and deleted from the municipality's directory, and the coordinator's mapping of the
directory's job titles and departments to staff roles and units."""
