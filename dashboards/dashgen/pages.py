"""The four pages: Product, Marketing, Operations (the three teams' dashboards) and Data quality."""

from __future__ import annotations

from dashgen.spec import CURRENCY, Chart, DbtTests, Freshness, Note, Page, Table, Tiles

PRODUCT = Page(
    slug="product",
    title="Product demand",
    audience="Product analytics: which cards sell, to reprint or retire.",
    blocks=(
        Tiles(
            "product/headline",
            ("net_revenue", "units_net", "units_ordered"),
            ("Net revenue", "Units sold (net)", "Units ordered"),
        ),
        Chart("product/trend_by_day", "Net revenue by day", "order_date", ("net_revenue",), "line", CURRENCY),
        Chart(
            "product/trend_by_day", "Units sold (net) by day", "order_date", ("units_net",), "line", CURRENCY
        ),
        Chart("product/by_sku", "Top SKUs by units sold (net)", "sku", ("units_net",), "hbar", CURRENCY),
        Table("product/by_sku", "Top SKUs", ("sku", "currency_code", "units_net", "net_revenue")),
        Chart(
            "product/by_player_name",
            "Top 20 players by units sold (net): their net revenue",
            "player_name",
            ("net_revenue",),
            "hbar",
            CURRENCY,
        ),
        Table(
            "product/by_player_name",
            "Top players: units and net revenue",
            ("player_name", "currency_code", "units_net", "net_revenue"),
        ),
        Chart(
            "product/by_team",
            "Top 20 teams by units sold (net): their net revenue",
            "team",
            ("net_revenue",),
            "hbar",
            CURRENCY,
        ),
        Table(
            "product/by_team",
            "Top teams: units and net revenue",
            ("team", "currency_code", "units_net", "net_revenue"),
        ),
        Chart("product/by_sport", "Net revenue by sport", "sport", ("net_revenue",), "bar", CURRENCY),
        Table(
            "product/by_sport",
            "By sport: units and net revenue",
            ("sport", "currency_code", "units_net", "net_revenue"),
        ),
        Chart(
            "product/by_parallel", "Net revenue by parallel", "parallel", ("net_revenue",), "bar", CURRENCY
        ),
        Table(
            "product/by_parallel",
            "By parallel: units and net revenue",
            ("parallel", "currency_code", "units_net", "net_revenue"),
        ),
        Chart(
            "product/rookie_vs_veteran",
            "Rookie vs veteran: units sold (net)",
            "card_kind",
            ("units_net",),
            "bar",
            CURRENCY,
        ),
        Table(
            "product/rookie_vs_veteran",
            "Rookie vs veteran",
            ("card_kind", "currency_code", "units_net", "net_revenue"),
        ),
        Table(
            "product/top_movers",
            "Top movers week over week (net units, the 7 days to the newest order date vs the 7 before)",
            ("sku", "units_this_week", "units_prior_week", "units_change"),
        ),
        Note("Player, team, sport and parallel are the card's attributes when the order was placed (SCD2)."),
    ),
)

MARKETING = Page(
    slug="marketing",
    title="Marketing revenue",
    audience="Marketing analytics: channels, customers, order values, refunds and cancellations.",
    blocks=(
        Tiles(
            "marketing/headline",
            ("net_revenue", "gross_revenue", "orders"),
            ("Net revenue", "Gross revenue", "Orders"),
        ),
        Tiles(
            "marketing/customers",
            ("customers", "repeat_customers", "repeat_rate"),
            ("Customers", "Repeat customers", "Repeat-purchase rate"),
        ),
        Chart("marketing/by_channel", "Net revenue by channel", "channel", ("net_revenue",), "bar", CURRENCY),
        Table(
            "marketing/by_channel",
            "Revenue by channel and currency",
            ("channel", "currency_code", "orders", "gross_revenue", "net_revenue"),
        ),
        Chart(
            "marketing/new_vs_returning",
            "Customers ordering per day: new vs returning",
            "order_date",
            ("customers",),
            "bar",
            "customer_type",
            stack=True,
        ),
        Chart(
            "marketing/repeat_rate_by_channel",
            "Repeat-purchase rate by acquisition channel",
            "first_channel",
            ("repeat_rate",),
            "bar",
        ),
        Chart(
            "marketing/order_value_distribution",
            "Order value distribution (gross, buckets of 25 in the order's currency)",
            "bucket_from",
            ("orders",),
            "histogram",
            CURRENCY,
            x_to="bucket_to",
        ),
        Chart(
            "marketing/refunds_cancellations_by_day",
            "Refunds and cancellations by day",
            "status_date",
            ("orders",),
            "bar",
            "order_status",
            stack=True,
        ),
        Table(
            "marketing/refunds_cancellations",
            "Refunds and cancellations with reasons",
            ("order_status", "reason", "currency_code", "orders", "gross_revenue"),
        ),
        Note(
            "Money is shown per currency and never added across currencies. Net revenue counts paid, shipped "
            "and delivered orders (0 while an order is unpaid, cancelled or refunded); the reason is the one "
            "given with the order's current status change."
        ),
    ),
)

OPERATIONS = Page(
    slug="operations",
    title="Operations manufacturing",
    audience="Operations: batches, output against plan, defects and cycle times per facility.",
    blocks=(
        Tiles(
            "operations/headline",
            ("batches", "batches_running", "produced_units", "planned_units", "defect_rate"),
            ("Batches", "Still running", "Units produced", "Units planned", "Defect rate"),
        ),
        Chart(
            "operations/by_facility",
            "Batches per facility",
            "facility",
            ("batches_completed", "batches_running"),
            "bar",
            stack=True,
        ),
        Chart(
            "operations/by_facility",
            "Produced vs planned units",
            "facility",
            ("planned_units", "produced_units"),
        ),
        Table(
            "operations/by_facility",
            "Facilities",
            (
                "facility",
                "batches",
                "batches_running",
                "planned_units",
                "produced_units",
                "defective_units",
                "defect_rate",
            ),
        ),
        Chart(
            "operations/defect_rate_by_day",
            "Defect rate by facility over time (by completion day)",
            "completed_date",
            ("defect_rate",),
            "line",
            "facility",
        ),
        Chart(
            "operations/defect_rate_by_sku_week",
            "Defect rate by SKU over time (the five SKUs with most units produced, by completion week)",
            "completed_week",
            ("defect_rate",),
            "line",
            "sku",
        ),
        Table(
            "operations/defect_rate_by_sku",
            "Highest defect rates by facility and SKU",
            ("facility", "sku", "batches", "produced_units", "defective_units", "defect_rate"),
        ),
        Chart(
            "operations/cycle_time_distribution",
            "Cycle time distribution (minutes, completed batches)",
            "minutes_from",
            ("batches",),
            "histogram",
            x_to="minutes_to",
        ),
        Table(
            "operations/running_batches",
            "Batches still running (oldest first)",
            ("batch_id", "facility", "sku", "started_at", "planned_units"),
        ),
    ),
)

DATA_QUALITY = Page(
    slug="data-quality",
    title="Data quality",
    audience="The platform team: is the data fresh, complete and tested?",
    blocks=(
        Freshness("data_quality/freshness"),
        Chart(
            "data_quality/volume",
            "Raw events per day vs the average of the 7 days before",
            "event_date",
            ("events", "rolling_avg_7d"),
            "line",
        ),
        Table(
            "data_quality/reconciliation",
            "Reconciliation per backfill window (journal count vs RAW events + quarantine)",
            ("window_id", "journal_rows", "landed_rows", "difference", "verdict"),
        ),
        Chart(
            "data_quality/quarantine_by_day",
            "Quarantined events by reason over time (by load day)",
            "load_date",
            ("events",),
            "bar",
            "reason",
            stack=True,
        ),
        Table("data_quality/quarantine_by_reason", "Quarantine by reason", ("reason", "source", "events")),
        Tiles("data_quality/dead_lettered", ("dead_lettered",), ("Dead-lettered events drained",)),
        Note(
            "Dead-letter depth: the queue's live depth is not recorded in the warehouse. What the drain "
            "landed is counted above (quarantine reason <code>dead_lettered</code>); the live depth is "
            "<code>cardpipe drain-dead-letters --check</code> (exit 1 while the queue is not empty) or the "
            "broker's own metrics (CloudWatch for Amazon MQ)."
        ),
        DbtTests(),
    ),
)

PAGES: tuple[Page, ...] = (PRODUCT, MARKETING, OPERATIONS, DATA_QUALITY)
