{{ config(unique_key='event_id', incremental_strategy='append') }}

{{ stg_card_event('card_updated') }}
