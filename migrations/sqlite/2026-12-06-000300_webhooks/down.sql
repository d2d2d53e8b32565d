DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoint_event_types;
DROP TABLE webhook_endpoint_tenants;
DROP TABLE webhook_endpoints;
