-- The materialized views that keep the rollup tables (migration 0008) as rows arrive.
-- Created by `events.rollups.sync_views` when TRAIL_ROLLUPS is on, dropped when it is off
-- (docs/rollups.md): they make every insert into `events` and `sessions` do the rollups'
-- work too.
-- '' rows: the site's hour; 'event' rows: one event name on one page (any event's page:
-- a page filter counts the custom events sent from it too).
-- Engagement events are no event of a report: left out.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_events_mv {{on_cluster}} TO rollup_events AS
SELECT
    site_id,
    dimension,
    hour AS timestamp,
    if(dimension = 'event', s_name, '') AS name,
    if(dimension = 'event', s_pathname, '') AS pathname,
    uniqExactState(visitor_id) AS visitors,
    toUInt64(countIf(s_name = 'pageview')) AS pageviews,
    toUInt64(count()) AS events
FROM
(
    SELECT site_id, visitor_id, toStartOfHour(toDateTime(timestamp, 'UTC')) AS hour,
        name AS s_name, pathname AS s_pathname
    FROM events
    WHERE name != 'engagement'
)
ARRAY JOIN ['', 'event'] AS dimension
GROUP BY site_id, dimension, timestamp, name, pathname;

-- The exit page is left out: it changes as a visit grows (docs/rollups.md).
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_sessions_mv {{on_cluster}} TO rollup_sessions AS
SELECT
    site_id,
    dimension,
    start_hour AS start,
    end_hour AS timestamp,
    if(dimension = 'visit:entry_page', s_entry_page, '') AS entry_page,
    if(dimension = 'visit:source', s_referrer_source, '') AS referrer_source,
    if(dimension = 'visit:referrer', s_referrer, '') AS referrer,
    if(dimension = 'visit:channel', s_channel, '') AS channel,
    if(dimension = 'visit:utm_medium', s_utm_medium, '') AS utm_medium,
    if(dimension = 'visit:utm_source', s_utm_source, '') AS utm_source,
    if(dimension = 'visit:utm_campaign', s_utm_campaign, '') AS utm_campaign,
    if(dimension = 'visit:utm_content', s_utm_content, '') AS utm_content,
    if(dimension = 'visit:utm_term', s_utm_term, '') AS utm_term,
    if(dimension = 'visit:country', s_country_code, '') AS country_code,
    if(dimension = 'visit:region', s_region, '') AS region,
    if(dimension = 'visit:city', s_city, '') AS city,
    if(dimension = 'visit:device', s_device, '') AS device,
    if(dimension = 'visit:browser', s_browser, '') AS browser,
    if(dimension = 'visit:browser_version', s_browser_version, '') AS browser_version,
    if(dimension = 'visit:os', s_os, '') AS os,
    if(dimension = 'visit:os_version', s_os_version, '') AS os_version,
    if(dimension = 'visit:screen', s_screen_size, '') AS screen_size,
    uniqExactState(visitor_id) AS visitors,
    sum(toInt64(sign)) AS visits,
    sum(sign * toInt64(s_pageviews)) AS pageviews,
    sum(sign * toInt64(s_events)) AS events,
    sum(sign * toInt64(is_bounce)) AS bounces,
    sum(sign * toInt64(s_duration)) AS duration
FROM
(
    SELECT site_id, visitor_id, sign, is_bounce,
        toStartOfHour(toDateTime(start, 'UTC')) AS start_hour,
        toStartOfHour(toDateTime(timestamp, 'UTC')) AS end_hour,
        pageviews AS s_pageviews, events AS s_events, duration AS s_duration,
        entry_page AS s_entry_page, referrer_source AS s_referrer_source, referrer AS s_referrer, channel AS s_channel, utm_medium AS s_utm_medium, utm_source AS s_utm_source, utm_campaign AS s_utm_campaign, utm_content AS s_utm_content, utm_term AS s_utm_term, country_code AS s_country_code, region AS s_region, city AS s_city, device AS s_device, browser AS s_browser, browser_version AS s_browser_version, os AS s_os, os_version AS s_os_version, screen_size AS s_screen_size
    FROM sessions
)
ARRAY JOIN ['', 'visit:entry_page', 'visit:source', 'visit:referrer', 'visit:channel', 'visit:utm_medium', 'visit:utm_source', 'visit:utm_campaign', 'visit:utm_content', 'visit:utm_term', 'visit:country', 'visit:region', 'visit:city', 'visit:device', 'visit:browser', 'visit:browser_version', 'visit:os', 'visit:os_version', 'visit:screen'] AS dimension
GROUP BY site_id, dimension, start, timestamp, entry_page, referrer_source, referrer, channel, utm_medium, utm_source, utm_campaign, utm_content, utm_term, country_code, region, city, device, browser, browser_version, os, os_version, screen_size;

-- The UTC days that receive rows inserted on another UTC day (a batch event dated in the
-- past, an import): their visitor ids may be another day's (events/salts.py salts by the
-- day an event is received), and a closed day must be written again (events/rollups_daily.py).
-- A flush within 5 minutes of the event's day's end is the same day's.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_mixed_mv {{on_cluster}} TO rollup_mixed AS
SELECT site_id, toDate(timestamp) AS day, max(inserted_at) AS at
FROM events
WHERE toDate(timestamp) != toDate(inserted_at)
    AND toDate(timestamp) != toDate(inserted_at - INTERVAL 5 MINUTE)
GROUP BY site_id, day;
