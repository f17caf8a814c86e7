-- The common stop-reason tree (seed): planned or not, and the six-big-loss category of each reason.
select reason_code, name_en as reason_name, name_ko as reason_name_ko, is_planned, loss_category
from {{ ref('stop_reasons') }}
