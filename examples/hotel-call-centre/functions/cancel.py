import json
import urllib
import boto3
import datetime
print('Loading function...')
def lambda_handler(message, context):
    # input example
    # {'TransactionType': 'Cancel'}
    #1. Log input message
    print("Received message from step Function:")
    print(message)
    #2. Construct response object
    response = {}
    response['TransactionType'] = message['TransactionType']
    response['Timestamp'] = datetime.datetime.now().strftime("%Y-%m-%d %H-%M-%s")
    response['Message'] = 'Hello from lambda, I am inside the ProcessCancel function'
    return response
