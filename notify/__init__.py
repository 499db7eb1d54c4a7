"""Telling people and programs: mail and signed webhooks with retries and a delivery log
(issue 20). Below `events` so that a paused streaming destination can tell its owners;
alerts (`alerts`) and email reports send through it."""
