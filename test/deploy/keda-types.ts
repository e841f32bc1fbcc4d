import type { HorizontalPodAutoscalerBehavior } from 'kubernetes-types/autoscaling/v2.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';

/**
 * The part of KEDA's ScaledObject (keda.sh/v1alpha1, KEDA 2.x) that the keda overlay uses. KEDA's CRDs are not in
 * kubernetes-types, so this hand-written type lets the schema test catch a misspelled field in a ScaledObject the
 * same way as in built-in kinds. Fields follow https://keda.sh/docs/2.14/reference/scaledobject-spec/.
 */
export interface ScaledObject {
  apiVersion: 'keda.sh/v1alpha1';
  kind: 'ScaledObject';
  metadata: ObjectMeta;
  spec: {
    scaleTargetRef: { name: string; apiVersion?: string; kind?: string; envSourceContainerName?: string };
    pollingInterval?: number;
    cooldownPeriod?: number;
    initialCooldownPeriod?: number;
    idleReplicaCount?: number;
    minReplicaCount?: number;
    maxReplicaCount?: number;
    fallback?: { failureThreshold: number; replicas: number };
    advanced?: {
      restoreToOriginalReplicaCount?: boolean;
      horizontalPodAutoscalerConfig?: { name?: string; behavior?: HorizontalPodAutoscalerBehavior };
      scalingModifiers?: {
        formula?: string;
        target?: string;
        activationTarget?: string;
        metricType?: string;
      };
    };
    triggers: Array<ScaledObjectTrigger>;
  };
}

export type ScaledObjectTrigger =
  | {
      type: 'cron';
      name?: string;
      metadata: { timezone: string; start: string; end: string; desiredReplicas: string };
    }
  | {
      type: 'cpu' | 'memory';
      name?: string;
      metricType: 'Utilization' | 'AverageValue';
      metadata: { value: string; containerName?: string };
    }
  | {
      type: 'prometheus';
      name?: string;
      metricType?: 'AverageValue' | 'Value';
      metadata: { serverAddress: string; query: string; threshold: string; activationThreshold?: string };
    };
