-- A fieldbridge database of release 2331384 (the last release without migrations), with data in every table.
--
-- Schema: exactly what that release's models (models/canonical.py, models/integration.py at commit 2331384)
-- made with SQLModel.metadata.create_all on SQLite, copied from sqlite_master (trailing blanks trimmed).
-- Kept as a file because a shallow CI clone has no history to rebuild it from. tests/test_migrations.py
-- loads it into a fresh SQLite file (the whole file) or into PostgreSQL migrated to 0001_baseline (the
-- INSERT statements only), then lets fieldbridge upgrade it and checks that nothing was lost.
--
-- Do not edit the schema part: it is history. Statements end with a semicolon at the end of a line, and no
-- semicolon appears anywhere else (the PostgreSQL test splits on that).

CREATE TABLE customer (
	id VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	email VARCHAR,
	phone VARCHAR,
	bill_line1 VARCHAR,
	bill_city VARCHAR,
	bill_state VARCHAR,
	bill_postal_code VARCHAR,
	PRIMARY KEY (id)
);
CREATE TABLE technician (
	id VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	email VARCHAR NOT NULL,
	timezone VARCHAR NOT NULL,
	hourly_rate VARCHAR(40) NOT NULL,
	bill_rate VARCHAR(40) NOT NULL,
	payroll_id VARCHAR,
	hr_id VARCHAR,
	PRIMARY KEY (id)
);
CREATE TABLE pricebookitem (
	sku VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	unit_price VARCHAR(40) NOT NULL,
	taxable BOOLEAN NOT NULL,
	PRIMARY KEY (sku)
);
CREATE TABLE externalref (
	id INTEGER NOT NULL,
	system VARCHAR NOT NULL,
	entity VARCHAR NOT NULL,
	canonical_id VARCHAR NOT NULL,
	vendor_id VARCHAR NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (system, entity, canonical_id)
);
CREATE TABLE effect (
	"key" VARCHAR NOT NULL,
	system VARCHAR NOT NULL,
	kind VARCHAR NOT NULL,
	job_id VARCHAR,
	status VARCHAR(9) NOT NULL,
	vendor_id VARCHAR,
	payload_hash VARCHAR,
	summary TEXT,
	attempts INTEGER NOT NULL,
	rejections INTEGER NOT NULL,
	last_error TEXT,
	lease_owner VARCHAR,
	lease_expires_at DATETIME,
	updated_at DATETIME,
	PRIMARY KEY ("key")
);
CREATE INDEX ix_effect_system ON effect (system);
CREATE INDEX ix_effect_job_id ON effect (job_id);
CREATE TABLE quarantine (
	id INTEGER NOT NULL,
	job_id VARCHAR NOT NULL,
	reason TEXT NOT NULL,
	failures TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	released_at DATETIME,
	PRIMARY KEY (id)
);
CREATE INDEX ix_quarantine_job_id ON quarantine (job_id);
CREATE TABLE validatedjob (
	job_id VARCHAR NOT NULL,
	passed_at DATETIME NOT NULL,
	checks_run INTEGER NOT NULL,
	paid_weeks TEXT DEFAULT '[]' NOT NULL,
	PRIMARY KEY (job_id)
);
CREATE TABLE inboundevent (
	event_id VARCHAR NOT NULL,
	source VARCHAR NOT NULL,
	type VARCHAR NOT NULL,
	payload TEXT NOT NULL,
	received_at DATETIME NOT NULL,
	flow_run_id VARCHAR,
	PRIMARY KEY (event_id)
);
CREATE TABLE site (
	id VARCHAR NOT NULL,
	customer_id VARCHAR NOT NULL,
	line1 VARCHAR NOT NULL,
	city VARCHAR NOT NULL,
	state VARCHAR NOT NULL,
	postal_code VARCHAR NOT NULL,
	timezone VARCHAR NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(customer_id) REFERENCES customer (id)
);
CREATE INDEX ix_site_customer_id ON site (customer_id);
CREATE TABLE job (
	id VARCHAR NOT NULL,
	customer_id VARCHAR NOT NULL,
	site_id VARCHAR NOT NULL,
	status VARCHAR(11) NOT NULL,
	description VARCHAR NOT NULL,
	resolution VARCHAR,
	closed_at DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY(customer_id) REFERENCES customer (id),
	FOREIGN KEY(site_id) REFERENCES site (id)
);
CREATE INDEX ix_job_customer_id ON job (customer_id);
CREATE TABLE jobtechnician (
	job_id VARCHAR NOT NULL,
	technician_id VARCHAR NOT NULL,
	PRIMARY KEY (job_id, technician_id),
	FOREIGN KEY(job_id) REFERENCES job (id),
	FOREIGN KEY(technician_id) REFERENCES technician (id)
);
CREATE TABLE timeentry (
	id VARCHAR NOT NULL,
	job_id VARCHAR NOT NULL,
	technician_id VARCHAR NOT NULL,
	kind VARCHAR(6) NOT NULL,
	start DATETIME NOT NULL,
	"end" DATETIME NOT NULL,
	billable BOOLEAN NOT NULL,
	commute BOOLEAN NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(job_id) REFERENCES job (id),
	FOREIGN KEY(technician_id) REFERENCES technician (id)
);
CREATE INDEX ix_timeentry_technician_id ON timeentry (technician_id);
CREATE INDEX ix_timeentry_job_id ON timeentry (job_id);
CREATE TABLE partusage (
	id VARCHAR NOT NULL,
	job_id VARCHAR NOT NULL,
	sku VARCHAR NOT NULL,
	quantity VARCHAR(40) NOT NULL,
	unit_price VARCHAR(40) NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(job_id) REFERENCES job (id)
);
CREATE INDEX ix_partusage_job_id ON partusage (job_id);
CREATE TABLE expense (
	id VARCHAR NOT NULL,
	job_id VARCHAR NOT NULL,
	description VARCHAR NOT NULL,
	amount VARCHAR(40) NOT NULL,
	billable BOOLEAN NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(job_id) REFERENCES job (id)
);
CREATE INDEX ix_expense_job_id ON expense (job_id);
CREATE TABLE note (
	id VARCHAR NOT NULL,
	job_id VARCHAR NOT NULL,
	technician_id VARCHAR NOT NULL,
	body VARCHAR NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(job_id) REFERENCES job (id),
	FOREIGN KEY(technician_id) REFERENCES technician (id)
);
CREATE INDEX ix_note_job_id ON note (job_id);

-- Rows as that release wrote them: enum columns hold member names, booleans 1/0 (TRUE/FALSE), money exact
-- decimal text, timestamps naive UTC text in the format SQLAlchemy writes to SQLite (read as UTC).
INSERT INTO customer (id, name, email, phone, bill_line1, bill_city, bill_state, bill_postal_code) VALUES ('C100', 'Harbor View Dental', 'office@harborviewdental.example', '+1 650 555 0142', '1450 Embarcadero Rd', 'Palo Alto', 'CA', '94303');
INSERT INTO customer (id, name, email, phone, bill_line1, bill_city, bill_state, bill_postal_code) VALUES ('C101', 'Marta Álvarez', 'marta.alvarez@example.com', NULL, '88 Alvarado St', 'Monterey', 'CA', '93940');
INSERT INTO customer (id, name, email, phone, bill_line1, bill_city, bill_state, bill_postal_code) VALUES ('C102', 'O''Brien & Sons Bakery', NULL, '+1 510 555 0199', NULL, NULL, NULL, NULL);
INSERT INTO site (id, customer_id, line1, city, state, postal_code, timezone) VALUES ('S100', 'C100', '1450 Embarcadero Rd, Suite 3', 'Palo Alto', 'CA', '94303', 'America/Los_Angeles');
INSERT INTO site (id, customer_id, line1, city, state, postal_code, timezone) VALUES ('S101', 'C101', '88 Alvarado St', 'Monterey', 'CA', '93940', 'America/Los_Angeles');
INSERT INTO site (id, customer_id, line1, city, state, postal_code, timezone) VALUES ('S102', 'C102', '2210 Shattuck Ave', 'Berkeley', 'CA', '94704', 'America/Los_Angeles');
INSERT INTO technician (id, name, email, timezone, hourly_rate, bill_rate, payroll_id, hr_id) VALUES ('T01', 'Dana Whitfield', 'dana.whitfield@bayside.example', 'America/Los_Angeles', '38.50', '125.00', '7f3a2c9e-5b1d-4c0a-9e1f-2d6b8a4c0e11', '1001');
INSERT INTO technician (id, name, email, timezone, hourly_rate, bill_rate, payroll_id, hr_id) VALUES ('T02', 'Luis Ortega', 'luis.ortega@bayside.example', 'America/Los_Angeles', '41.25', '135.00', '9c21e0b4-3f7a-4d52-8b6e-71a0c9d2f3b4', NULL);
INSERT INTO technician (id, name, email, timezone, hourly_rate, bill_rate, payroll_id, hr_id) VALUES ('T03', 'Priya Natarajan', 'priya.natarajan@bayside.example', 'America/Denver', '36.00', '115.00', NULL, NULL);
INSERT INTO pricebookitem (sku, name, unit_price, taxable) VALUES ('DRAIN-PUMP-W10', 'Washer drain pump', '89.99', TRUE);
INSERT INTO pricebookitem (sku, name, unit_price, taxable) VALUES ('IGNITER-GE', 'Oven igniter, GE', '54.5', TRUE);
INSERT INTO pricebookitem (sku, name, unit_price, taxable) VALUES ('DIAG-FEE', 'Diagnostic fee', '79.00', FALSE);
INSERT INTO job (id, customer_id, site_id, status, description, resolution, closed_at) VALUES ('J1001', 'C100', 'S100', 'CLOSED', 'Dishwasher not draining', 'Replaced drain pump, ran two full cycles', '2026-11-24 19:42:10.000000');
INSERT INTO job (id, customer_id, site_id, status, description, resolution, closed_at) VALUES ('J1002', 'C101', 'S101', 'CLOSED', 'Oven will not ignite', 'Igniter replaced', '2026-11-24 22:15:00.500000');
INSERT INTO job (id, customer_id, site_id, status, description, resolution, closed_at) VALUES ('J1003', 'C102', 'S102', 'IN_PROGRESS', 'Walk-in cooler icing up', NULL, NULL);
INSERT INTO job (id, customer_id, site_id, status, description, resolution, closed_at) VALUES ('J1004', 'C100', 'S100', 'SCHEDULED', 'Annual maintenance, sterilizer and compressor', NULL, NULL);
INSERT INTO jobtechnician (job_id, technician_id) VALUES ('J1001', 'T01');
INSERT INTO jobtechnician (job_id, technician_id) VALUES ('J1001', 'T02');
INSERT INTO jobtechnician (job_id, technician_id) VALUES ('J1002', 'T02');
INSERT INTO jobtechnician (job_id, technician_id) VALUES ('J1003', 'T03');
INSERT INTO jobtechnician (job_id, technician_id) VALUES ('J1004', 'T01');
INSERT INTO timeentry (id, job_id, technician_id, kind, start, "end", billable, commute) VALUES ('TE1', 'J1001', 'T01', 'TRAVEL', '2026-11-24 16:05:00.000000', '2026-11-24 16:40:00.000000', FALSE, TRUE);
INSERT INTO timeentry (id, job_id, technician_id, kind, start, "end", billable, commute) VALUES ('TE2', 'J1001', 'T01', 'WORK', '2026-11-24 16:40:00.000000', '2026-11-24 18:00:00.000000', TRUE, FALSE);
INSERT INTO timeentry (id, job_id, technician_id, kind, start, "end", billable, commute) VALUES ('TE3', 'J1001', 'T01', 'BREAK', '2026-11-24 18:00:00.000000', '2026-11-24 18:30:00.000000', FALSE, FALSE);
INSERT INTO timeentry (id, job_id, technician_id, kind, start, "end", billable, commute) VALUES ('TE4', 'J1001', 'T01', 'WORK', '2026-11-24 18:30:00.000000', '2026-11-24 19:40:00.000000', TRUE, FALSE);
INSERT INTO timeentry (id, job_id, technician_id, kind, start, "end", billable, commute) VALUES ('TE5', 'J1001', 'T02', 'WORK', '2026-11-24 17:00:00.000000', '2026-11-24 19:40:00.000000', TRUE, FALSE);
INSERT INTO timeentry (id, job_id, technician_id, kind, start, "end", billable, commute) VALUES ('TE6', 'J1002', 'T02', 'TRAVEL', '2026-11-24 20:10:00.000000', '2026-11-24 20:55:00.000000', TRUE, FALSE);
INSERT INTO timeentry (id, job_id, technician_id, kind, start, "end", billable, commute) VALUES ('TE7', 'J1002', 'T02', 'WORK', '2026-11-24 20:55:00.000000', '2026-11-24 22:14:30.250000', TRUE, FALSE);
INSERT INTO timeentry (id, job_id, technician_id, kind, start, "end", billable, commute) VALUES ('TE8', 'J1003', 'T03', 'TRAVEL', '2026-11-25 14:20:00.000000', '2026-11-25 15:00:00.000000', FALSE, TRUE);
INSERT INTO timeentry (id, job_id, technician_id, kind, start, "end", billable, commute) VALUES ('TE9', 'J1003', 'T03', 'WORK', '2026-11-25 15:00:00.000000', '2026-11-25 17:30:00.000000', TRUE, FALSE);
INSERT INTO partusage (id, job_id, sku, quantity, unit_price) VALUES ('P1', 'J1001', 'DRAIN-PUMP-W10', '1', '89.99');
INSERT INTO partusage (id, job_id, sku, quantity, unit_price) VALUES ('P2', 'J1001', 'HOSE-CLAMP-32', '2.5', '0.3333');
INSERT INTO partusage (id, job_id, sku, quantity, unit_price) VALUES ('P3', 'J1002', 'IGNITER-GE', '1', '54.50');
INSERT INTO expense (id, job_id, description, amount, billable) VALUES ('E1', 'J1001', 'Parking, Embarcadero garage', '18.00', TRUE);
INSERT INTO expense (id, job_id, description, amount, billable) VALUES ('E2', 'J1002', 'Bay Bridge toll', '7.00', FALSE);
INSERT INTO note (id, job_id, technician_id, body, created_at) VALUES ('N1', 'J1001', 'T01', 'Customer confirms it drains — "works great". Old pump left on site at their request.', '2026-11-24 19:35:00.000000');
INSERT INTO note (id, job_id, technician_id, body, created_at) VALUES ('N2', 'J1002', 'T02', 'Gas line checked, no leak. Recommend descaling next visit.', '2026-11-24 22:10:12.345678');
INSERT INTO note (id, job_id, technician_id, body, created_at) VALUES ('N3', 'J1003', 'T03', 'Door gasket torn, ordered replacement.', '2026-11-25 17:20:00.000000');
INSERT INTO externalref (id, system, entity, canonical_id, vendor_id) VALUES (1, 'hubspot', 'contact', 'C100', '51');
INSERT INTO externalref (id, system, entity, canonical_id, vendor_id) VALUES (2, 'hubspot', 'ticket', 'J1001', '9001');
INSERT INTO externalref (id, system, entity, canonical_id, vendor_id) VALUES (3, 'hubspot', 'ticket', 'J1002', '9002');
INSERT INTO externalref (id, system, entity, canonical_id, vendor_id) VALUES (4, 'quickbooks', 'customer', 'C100', '58');
INSERT INTO externalref (id, system, entity, canonical_id, vendor_id) VALUES (5, 'quickbooks', 'item', 'DRAIN-PUMP-W10', '21');
INSERT INTO externalref (id, system, entity, canonical_id, vendor_id) VALUES (7, 'gusto', 'employee', 'T01', '7f3a2c9e-5b1d-4c0a-9e1f-2d6b8a4c0e11');
INSERT INTO effect ("key", system, kind, job_id, status, vendor_id, payload_hash, summary, attempts, rejections, last_error, lease_owner, lease_expires_at, updated_at) VALUES ('hubspot:ticket:J1001', 'hubspot', 'resolve_case', 'J1001', 'DONE', '9001', '3f1c0a9be27d4c5e8a61f0d2b3c4e5f6', '{"ticket_id": "9001", "status": "closed"}', 1, 0, NULL, NULL, NULL, '2026-11-24 19:43:02.118000');
INSERT INTO effect ("key", system, kind, job_id, status, vendor_id, payload_hash, summary, attempts, rejections, last_error, lease_owner, lease_expires_at, updated_at) VALUES ('hubspot:note:N1', 'hubspot', 'add_note', 'J1001', 'DONE', '70011', 'a1b2c3d4e5f60718293a4b5c6d7e8f90', '{"note_id": "70011"}', 1, 0, NULL, NULL, NULL, '2026-11-24 19:43:03.502000');
INSERT INTO effect ("key", system, kind, job_id, status, vendor_id, payload_hash, summary, attempts, rejections, last_error, lease_owner, lease_expires_at, updated_at) VALUES ('gusto:timesheet:T01:2026-11-24', 'gusto', 'timesheet', NULL, 'DONE', 'ts-5521', '0badc0ffee0ddf00d0123456789abcde', '{"regular": "2.83", "overtime": "0.00", "travel": "0.58"}', 2, 0, NULL, NULL, NULL, '2026-11-24 19:44:10.000000');
INSERT INTO effect ("key", system, kind, job_id, status, vendor_id, payload_hash, summary, attempts, rejections, last_error, lease_owner, lease_expires_at, updated_at) VALUES ('quickbooks:customer:C100', 'quickbooks', 'customer', NULL, 'DONE', '58', '5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b', '{"id": "58"}', 1, 0, NULL, NULL, NULL, '2026-11-24 19:43:05.000000');
INSERT INTO effect ("key", system, kind, job_id, status, vendor_id, payload_hash, summary, attempts, rejections, last_error, lease_owner, lease_expires_at, updated_at) VALUES ('quickbooks:invoice:J1001', 'quickbooks', 'invoice', 'J1001', 'DONE', '1043', 'c0ffee00112233445566778899aabbcc', '{"invoice_id": "1043", "total": "512.24"}', 1, 0, NULL, NULL, NULL, '2026-11-24 19:43:09.771000');
INSERT INTO effect ("key", system, kind, job_id, status, vendor_id, payload_hash, summary, attempts, rejections, last_error, lease_owner, lease_expires_at, updated_at) VALUES ('quickbooks:invoice:J1002', 'quickbooks', 'invoice', 'J1002', 'FAILED', NULL, '99aa88bb77cc66dd55ee44ff33001122', NULL, 1, 1, 'ValidationFault 6000: a business validation error has occurred (item IGNITER-GE is inactive)', NULL, NULL, '2026-11-24 22:16:40.000000');
INSERT INTO effect ("key", system, kind, job_id, status, vendor_id, payload_hash, summary, attempts, rejections, last_error, lease_owner, lease_expires_at, updated_at) VALUES ('hubspot:ticket:J1002', 'hubspot', 'resolve_case', 'J1002', 'IN_FLIGHT', NULL, 'dd00ee11ff22003344556677889900aa', NULL, 1, 0, 'ReadTimeout: hubspot did not answer in 20 s', 'worker-3:8a1f4e', '2026-11-24 22:18:40.000000', '2026-11-24 22:16:40.000000');
INSERT INTO effect ("key", system, kind, job_id, status, vendor_id, payload_hash, summary, attempts, rejections, last_error, lease_owner, lease_expires_at, updated_at) VALUES ('gusto:timesheet:T02:2026-11-24', 'gusto', 'timesheet', NULL, 'PENDING', NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, '2026-11-24 22:16:41.000000');
INSERT INTO quarantine (id, job_id, reason, failures, created_at, released_at) VALUES (1, 'J0998', 'quality gate: 1 expectation failed', '[{"check": "time_entries_within_job_window", "rows": ["TE0871"]}]', '2026-11-23 18:02:00.000000', '2026-11-23 21:30:00.000000');
INSERT INTO quarantine (id, job_id, reason, failures, created_at, released_at) VALUES (2, 'J1003', 'quality gate: 2 expectations failed', '[{"check": "job_closed", "rows": ["J1003"]}, {"check": "billable_work_present", "rows": []}]', '2026-11-25 17:45:00.000000', NULL);
INSERT INTO validatedjob (job_id, passed_at, checks_run, paid_weeks) VALUES ('J1001', '2026-11-24 19:42:30.000000', 14, '[["T01", "2026-11-22"], ["T02", "2026-11-22"]]');
INSERT INTO validatedjob (job_id, passed_at, checks_run, paid_weeks) VALUES ('J1002', '2026-11-24 22:15:20.000000', 14, '[]');
INSERT INTO inboundevent (event_id, source, type, payload, received_at, flow_run_id) VALUES ('evt-7f2c1', 'fsm', 'job.closed', '{"id": "evt-7f2c1", "type": "job.closed", "data": {"job": {"id": "J1001"}}}', '2026-11-24 19:42:11.000000', '5b0e1c3a-6d2f-4e8b-9a7c-1f0e2d3c4b5a');
INSERT INTO inboundevent (event_id, source, type, payload, received_at, flow_run_id) VALUES ('evt-7f2c2', 'fsm', 'job.updated', '{"job_id": "J1002", "changed": ["notes"]}', '2026-11-24 22:20:00.000000', NULL);
