/** `FerryExportStack`: the connected side, deployable on its own (`npx cdk deploy FerryExportStack`). */
import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { FerryExport, type FerryExportProps } from './export-construct.ts';

export type FerryExportStackProps = StackProps & FerryExportProps;

export class FerryExportStack extends Stack {
  readonly ferry: FerryExport;
  constructor(scope: Construct, id: string, props: FerryExportStackProps) {
    super(scope, id, props);
    this.ferry = new FerryExport(this, 'Ferry', props);
  }
}
