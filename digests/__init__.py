"""Email reports (issue 20, point 1): a site's weekly or monthly numbers mailed to any
address, in the site's time zone, with a one-click unsubscribe link. Sent through
`notify`'s mail channel, so a mail server that is down is retried and logged."""
