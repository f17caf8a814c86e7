-- The plant's main incomer is its one meter (named in client.yml); duplicate intervals kept once.
with readings as (
    select * from {{ ref('stg_uci_steel_energy__energy') }}
    qualify row_number() over (partition by interval_end order by loaded_at, load_batch_id, source_row) = 1
),

meter as (
    select min(machine_id) as meter_id, min(site_id) as site_id from {{ ref('stg_client__machines') }}
)

select
    readings.client_id,
    meter.meter_id,
    meter.site_id,
    readings.interval_end - interval 15 minute as interval_start,
    readings.interval_end,
    readings.energy_kwh,
    readings.lagging_reactive_kvarh + readings.leading_reactive_kvarh as reactive_kvarh,
    readings.source_file,
    readings.load_batch_id
from readings
cross join meter
