"""kube-controller-manager's controllers as pure reconcile functions over plain dicts.

Each ``reconcile_*`` takes the object and what the informer caches hold (as lists of dicts
in Kubernetes' JSON form) and a ``now``, and returns a ``Plan`` (see ``_plan``): the writes
to make, the events to record and when to look again. The controller actors wrap them.
"""

from ._logic_cronjob import *  # noqa: F403
from ._logic_cronjob import __all__ as _cronjob_all
from ._logic_daemonset import *  # noqa: F403
from ._logic_daemonset import __all__ as _daemonset_all
from ._logic_deployment import *  # noqa: F403
from ._logic_deployment import __all__ as _deployment_all
from ._logic_disruption import *  # noqa: F403
from ._logic_disruption import __all__ as _disruption_all
from ._logic_endpoints import *  # noqa: F403
from ._logic_endpoints import __all__ as _endpoints_all
from ._logic_gc import *  # noqa: F403
from ._logic_gc import __all__ as _gc_all
from ._logic_job import *  # noqa: F403
from ._logic_job import __all__ as _job_all
from ._logic_mirroring import *  # noqa: F403
from ._logic_mirroring import __all__ as _mirroring_all
from ._logic_namespace import *  # noqa: F403
from ._logic_namespace import __all__ as _namespace_all
from ._logic_nodeipam import *  # noqa: F403
from ._logic_nodeipam import __all__ as _nodeipam_all
from ._logic_nodelifecycle import *  # noqa: F403
from ._logic_nodelifecycle import __all__ as _nodelifecycle_all
from ._logic_pv import *  # noqa: F403
from ._logic_pv import __all__ as _pv_all
from ._logic_replicaset import *  # noqa: F403
from ._logic_replicaset import __all__ as _replicaset_all
from ._logic_resourcequota import *  # noqa: F403
from ._logic_resourcequota import __all__ as _resourcequota_all
from ._logic_rollout import *  # noqa: F403
from ._logic_rollout import __all__ as _rollout_all
from ._logic_serviceaccount import *  # noqa: F403
from ._logic_serviceaccount import __all__ as _serviceaccount_all
from ._logic_statefulset import *  # noqa: F403
from ._logic_statefulset import __all__ as _statefulset_all
from ._plan import *  # noqa: F403
from ._plan import __all__ as _plan_all

__all__ = sorted({*_plan_all, *_replicaset_all, *_rollout_all, *_deployment_all, *_daemonset_all,
                  *_job_all, *_statefulset_all,
                  *_endpoints_all, *_mirroring_all, *_nodelifecycle_all,
                  *_gc_all, *_namespace_all, *_pv_all,
                  *_nodeipam_all, *_serviceaccount_all, *_disruption_all,
                  *_cronjob_all, *_resourcequota_all})
