/** `FerryImportStack`: the isolated side, deployable on its own (`npx cdk deploy FerryImportStack`). */
import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { FerryImport, type FerryImportProps } from './import-construct.ts';

export type FerryImportStackProps = StackProps & FerryImportProps;

export class FerryImportStack extends Stack {
  readonly ferry: FerryImport;
  constructor(scope: Construct, id: string, props: FerryImportStackProps) {
    super(scope, id, props);
    this.ferry = new FerryImport(this, 'Ferry', props);
  }
}
