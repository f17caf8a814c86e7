-- The common stop-reason tree (seed): planned or not, and the six-big-loss category of each reason.
select
    client.client_id,
    reasons.reason_code,
    reasons.name_en as reason_name,
    reasons.name_ko as reason_name_ko,
    reasons.is_planned,
    reasons.loss_category,
    'seeds/stop_reasons.csv' as source_file,
    'reference' as load_batch_id
from {{ ref('stop_reasons') }} as reasons
cross join {{ ref('stg_mapped__client') }} as client
