"""The Starlette adapter: routes, content negotiation, and the only place where error categories become
HTTP statuses and OperationOutcomes."""
